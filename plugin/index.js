// opencode-balancer: the opencode plugin.
//
// A thin bridge. It starts the `opencode-balancer serve` sidecar (one per
// opencode process), speaks NDJSON JSON-RPC 2.0 with it over stdio (the
// contract is docs/protocol.md), forwards opencode's hooks to it, and patches
// `globalThis.fetch` so a provider request marked by the `chat.headers` hook
// goes out as the account the sidecar picks (answered with `chat.headers`; asked
// again with `fetch.begin` only when it may have changed), its 2xx told without
// waiting (one awaited call per answered request), and is re-sent as another account
// when the sidecar answers `retry` (a 429 on one key, then the next key), to
// another provider when it answers `switch` (that provider ran dry), or answered
// at once with the sidecar's final message when it answers `fail`.
//
// Plain ESM, no build step, no runtime dependencies: node/bun built-ins only.
// It never breaks opencode: when the binary is missing, crashes, hangs or
// answers garbage, requests pass through untouched, one warning is shown per
// outage, and the sidecar is restarted with backoff.
//
// Options (opencode.json: ["file:///…/index.js", { …options }]) and the
// environment variables for them (an option wins over its variable):
//   binary              OPENCODE_BALANCER_BIN                 path of the binary
//   store                                                     --store PATH for the sidecar
//   timeoutMs           OPENCODE_BALANCER_TIMEOUT_MS          hot-path call timeout (1500)
//   commandTimeoutMs    OPENCODE_BALANCER_COMMAND_TIMEOUT_MS  /balancer and tool timeout (15000)
//   restartDelayMs      OPENCODE_BALANCER_RESTART_MS          first restart delay (1000), doubling
//   startGraceMs        OPENCODE_BALANCER_START_GRACE_MS      time a new sidecar has to answer initialize (5000)
//   maxRestartDelayMs   OPENCODE_BALANCER_RESTART_MAX_MS      restart delay cap (30000)
//   warnIntervalMs      OPENCODE_BALANCER_WARN_INTERVAL_MS    least time between two warnings (60000)
//   debug               OPENCODE_BALANCER_DEBUG=1             sidecar stderr and plugin notes to stderr
//   disabled            OPENCODE_BALANCER_DISABLE=1           load without doing anything
//   resubmit                                                  send a message again on the next provider
//                                                             after a `fail` with `resubmit` (default: on,
//                                                             off under `opencode run`, which exits first)
// The binary is found in this order (the first that applies wins):
//   1. option `binary`: what this one config asks for, explicitly;
//   2. the platform package `opencode-balancer-<os>-<arch>[-musl]` (bin/),
//      resolved from this file: npm/bun install it with the `opencode-balancer`
//      package, at the same version, so it speaks this plugin's protocol by
//      construction. It comes before the variable below because that variable is
//      set once and outlives upgrades (an old cargo build would shadow the binary
//      that was installed with the plugin); to run another binary with the npm
//      package, use the option;
//   3. OPENCODE_BALANCER_BIN;
//   4. the path `opencode-balancer install` wrote below (only in a copy it wrote);
//   5. `opencode-balancer` on PATH;
//   6. ../target/release/opencode-balancer next to this file (a checkout).
// 1 and 3 are taken as given: a wrong path means "no sidecar", never a silent
// fallback. 2, 4, 5, 6 count only when the file is there and executable.
// The binary must answer `initialize` with protocolVersion 1 (docs/protocol.md);
// one that does not (older, or newer) is stopped and not restarted: requests
// pass through and the user is told once what to do.

import { spawn } from "node:child_process";
import { accessSync, constants as fsConstants, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const INSTALLED_BINARY = null; // replaced by opencode-balancer install

const PLUGIN_ID = "opencode-balancer";
const PLUGIN_VERSION = "0.3.0";
const BINARY_NAME = "opencode-balancer";
/** The `protocolVersion` this plugin speaks; a sidecar answering another one is not used. */
const PROTOCOL_VERSION = 1;
/** What a user does about a missing or unusable binary. */
const WHAT_TO_DO =
  'add "opencode-balancer" to the plugin list of opencode.json (opencode installs it with its binary), ' +
  "or run `npm i opencode-balancer` next to opencode's config, set OPENCODE_BALANCER_BIN to the binary, " +
  "or put it on PATH (`cargo install opencode-balancer`)";
/** The request header `chat.headers` sets and the fetch patch consumes. */
const MARKER = "x-opencode-balancer-request";
const COMMAND = "balancer";
const TOOL = "balancer_command";
/** First bytes of a non-2xx body reported to fetch.result. */
const BODY_PEEK_BYTES = 4096;
/** How long the `fetch.begin` answer that came with `chat.headers` stays good for the fetch. */
const HELD_FRESH_MS = 5000;
/** Answers held for requests not yet sent (a request opencode never sent is dropped, oldest first). */
const MAX_HELD = 256;
/** The request a provider's first `chat.headers` expects: opencode's SDKs send a bearer. */
const FIRST_SHAPE = { headerNames: ["authorization"], authorization: "bearer" };
/** The sidecar enforces maxAttempts (≤ 10); this only stops a runaway loop. */
const HARD_MAX_ATTEMPTS = 10;
/** A sidecar that lived this long restarts with the first delay again. */
const STABLE_AFTER_MS = 10_000;
/** Consecutive unanswered calls after which the sidecar is killed and restarted. */
const HUNG_AFTER_TIMEOUTS = 2;
/** A stdout line longer than this (no newline yet) is a protocol violation. */
const MAX_LINE_CHARS = 16 * 1024 * 1024;
const RUNTIME_KEY = Symbol.for("opencode-balancer.plugin.runtime");

// ---------------------------------------------------------------------------
// small helpers

function isObject(v) {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isStringRecord(v) {
  return isObject(v) && Object.values(v).every((x) => typeof x === "string");
}

function optionalStringList(v) {
  return v === undefined || v === null || (Array.isArray(v) && v.every((x) => typeof x === "string"));
}

// CSI (ESC [ … final byte), OSC (ESC ] … BEL or ESC \\) and two-byte escapes; stray ESC/C1 bytes.
const ANSI_ESCAPE = /\u001b\[[0-?]*[ -\/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]|[\u001b\u009b]/g;

/** Text without terminal escape sequences, for anything shown to the user. */
function stripAnsi(text) {
  return typeof text === "string" ? text.replace(ANSI_ESCAPE, "") : text;
}

function envFlag(name) {
  const v = process.env[name];
  return v !== undefined && v !== "" && v !== "0" && v.toLowerCase() !== "false";
}

function numberSetting(option, envName, fallback) {
  for (const raw of [option, process.env[envName]]) {
    if (raw === undefined || raw === null || raw === "") continue;
    const n = Number(raw);
    if (Number.isFinite(n) && n >= 0) return n;
  }
  return fallback;
}

function errorText(e) {
  if (e instanceof Error) return e.message;
  return String(e);
}

function isExecutableFile(path) {
  try {
    if (!statSync(path).isFile()) return false;
    if (process.platform !== "win32") accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findOnPath(name) {
  const dirs = (process.env.PATH || "").split(delimiter).filter(Boolean);
  const names = process.platform === "win32" ? [name + ".exe", name + ".cmd", name] : [name];
  for (const dir of dirs) {
    for (const n of names) {
      const candidate = join(dir, n);
      if (isExecutableFile(candidate)) return candidate;
    }
  }
  return null;
}

function checkoutBinary() {
  try {
    return fileURLToPath(new URL(`../target/release/${BINARY_NAME}`, import.meta.url));
  } catch {
    return null;
  }
}

/** Whether this Linux runs musl: Node's report names glibc when there is one. */
function isMusl() {
  if (process.platform !== "linux") return false;
  try {
    if (process.report?.getReport?.()?.header?.glibcVersionRuntime) return false;
  } catch {
    // no report: look at the loader
  }
  try {
    return readdirSync("/lib").some((f) => f.startsWith("ld-musl-"));
  } catch {
    return false;
  }
}

/**
 * The platform package names for this machine, the most likely first (Linux: both libcs).
 * Not exported: opencode may take any exported function for a plugin (tui/rpc.js has a copy).
 */
function platformPackages(platform = process.platform, arch = process.arch, musl = isMusl()) {
  const base = `${BINARY_NAME}-${platform}-${arch}`;
  if (platform !== "linux") return [base];
  return musl ? [`${base}-musl`, base] : [base, `${base}-musl`];
}

/** The binary of the platform package installed beside `here` (a file: URL), or null. */
function packageBinaryFrom(here) {
  let require;
  try {
    require = createRequire(here);
  } catch {
    return null;
  }
  const exe = process.platform === "win32" ? `${BINARY_NAME}.exe` : BINARY_NAME;
  for (const name of platformPackages()) {
    try {
      const path = join(dirname(require.resolve(`${name}/package.json`)), "bin", exe);
      if (isExecutableFile(path)) return path;
    } catch {
      // not installed
    }
  }
  return null;
}

/** Where the sidecar binary is, and which rule found it. */
function resolveBinary(options) {
  if (typeof options.binary === "string" && options.binary !== "") {
    return { path: options.binary, source: "the plugin option `binary`" };
  }
  const fromPackage = packageBinaryFrom(import.meta.url);
  if (fromPackage) return { path: fromPackage, source: "the platform package" };
  const fromEnv = process.env.OPENCODE_BALANCER_BIN;
  if (fromEnv) return { path: fromEnv, source: "OPENCODE_BALANCER_BIN" };
  if (typeof INSTALLED_BINARY === "string" && INSTALLED_BINARY && isExecutableFile(INSTALLED_BINARY)) {
    return { path: INSTALLED_BINARY, source: "opencode-balancer install" };
  }
  const onPath = findOnPath(BINARY_NAME);
  if (onPath) return { path: onPath, source: "PATH" };
  const checkout = checkoutBinary();
  if (checkout && isExecutableFile(checkout)) return { path: checkout, source: "the checkout" };
  return { path: null, source: null };
}

/** A promise that settles with `promise` or rejects after `ms`. */
function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

class SidecarUnavailable extends Error {
  constructor(message) {
    super(message);
    this.name = "SidecarUnavailable";
  }
}

class SidecarTimeout extends Error {
  constructor(message) {
    super(message);
    this.name = "SidecarTimeout";
  }
}

/** A JSON-RPC error answer: the sidecar is alive and said no. */
class SidecarError extends Error {
  constructor(error) {
    super(typeof error?.message === "string" ? error.message : "sidecar error");
    this.name = "SidecarError";
    this.code = error?.code;
    this.data = error?.data;
  }
}

/**
 * Thrown from command.execute.before only when the answer could not be put in the session
 * (no session API, its call failed): it stops the command before any model request, and opencode
 * answers the command with a 500.
 */
class BalancerCommandHandled extends Error {
  constructor(text, output) {
    super(`/balancer ${text}`.trim() + " was answered by opencode-balancer (no prompt sent):\n" + output);
    this.name = "BalancerCommandHandled";
  }
}

/**
 * `/balancer …` answered in the session, with no model request and no error (opencode 1.18.33):
 * 1. command.execute.before stores the typed command as a noReply user message (it asks nothing)
 *    and puts the answer, marked with that message's id under ANSWER_KEY, in place of the
 *    command's parts (output.parts, changed in place: opencode keeps its own array);
 * 2. opencode creates the command's message and shows it to chat.message before saving it;
 *    answerCommand turns it into the finished assistant message answering (1);
 * 3. opencode's prompt loop ends at once when the latest assistant message is finished and
 *    answers the latest user message, so no model is asked; session.command returns 200.
 * The TUI shows the question and its answer; `opencode run --command balancer …` prints the
 * answer (a finished text part) and exits 0. opencode logs "invalid user message before save"
 * for (2) (it checks the message against the user schema and saves it anyway).
 */
const ANSWER_KEY = "opencode-balancer.answerTo";

/** The user message id a `/balancer` answer part carries, when `parts` holds one. */
function commandAnswerOf(parts) {
  if (!Array.isArray(parts)) return undefined;
  for (const p of parts) {
    const to = isObject(p) && isObject(p.metadata) ? p.metadata[ANSWER_KEY] : undefined;
    if (typeof to === "string" && to !== "") return to;
  }
  return undefined;
}

/** Replaces the parts of a command in place with the answer, marked as answering `questionID`. */
function putCommandAnswer(parts, answer, questionID) {
  parts.splice(0, parts.length, { type: "text", text: answer, metadata: { [ANSWER_KEY]: questionID } });
}

/**
 * Turns the user message opencode is about to save (chat.message's output) into the finished
 * assistant message answering `questionID`, with the fields opencode's assistant messages have.
 */
function answerCommand(output, questionID, where) {
  const message = output.message;
  const now = Date.now();
  const model = isObject(message.model) ? message.model : {};
  for (const key of ["model", "tools", "system", "format", "summary"]) delete message[key];
  Object.assign(message, {
    role: "assistant",
    parentID: questionID,
    mode: message.agent,
    agent: message.agent,
    path: { cwd: where.directory ?? "", root: where.worktree ?? where.directory ?? "" },
    cost: 0,
    tokens: { input: 0, output: 0, reasoning: 0, cache: { read: 0, write: 0 } },
    modelID: typeof model.modelID === "string" ? model.modelID : "",
    providerID: typeof model.providerID === "string" ? model.providerID : "",
    time: { created: isObject(message.time) && typeof message.time.created === "number" ? message.time.created : now, completed: now },
    finish: "stop",
  });
  if (typeof model.variant === "string") message.variant = model.variant;
  for (const part of output.parts) {
    if (isObject(part) && part.type === "text") part.time = { start: now, end: now };
  }
}

// ---------------------------------------------------------------------------
// the sidecar process and its JSON-RPC connection

class Sidecar {
  /**
   * @param settings {resolve, args, restartDelayMs, maxRestartDelayMs, startGraceMs, debug}
   * @param events {notification(method, params), failure(reason)}
   */
  constructor(settings, events) {
    this.settings = settings;
    this.events = events;
    this.current = null; // {child, startedAt, buffer, dead, ready, bin}
    this.pending = new Map(); // id → {resolve, reject, timer, gen, method}
    this.nextId = 1;
    this.delay = settings.restartDelayMs;
    this.nextStartAt = 0;
    this.restartTimer = null;
    this.closed = false;
    this.timeouts = 0;
    this.onStart = null;
    this.lastReason = "not started yet";
    this.stderrTail = [];
    this.starts = 0;
    /** Set when the binary cannot be used (wrong protocol): never started again. */
    this.refused = null;
  }

  get running() {
    return this.current !== null;
  }

  start() {
    if (this.closed || this.current || this.refused) return;
    if (this.restartTimer) {
      clearTimeout(this.restartTimer);
      this.restartTimer = null;
    }
    const bin = this.settings.resolve();
    if (!bin.path) {
      this.startFailed(`the ${BINARY_NAME} binary was not found: ${WHAT_TO_DO}`);
      return;
    }
    if (!isExecutableFile(bin.path)) {
      this.startFailed(`the ${BINARY_NAME} binary from ${bin.source} is missing or not executable: ${bin.path}`);
      return;
    }
    let child;
    try {
      child = spawn(bin.path, [...this.settings.args, "serve"], {
        stdio: ["pipe", "pipe", "pipe"],
        env: process.env,
        windowsHide: true,
      });
    } catch (e) {
      this.startFailed(`could not start ${bin.path}: ${errorText(e)}`);
      return;
    }
    this.starts += 1;
    this.timeouts = 0;
    const gen = { child, startedAt: Date.now(), buffer: "", dead: false, ready: false, bin: bin.path };
    this.current = gen;
    this.stderrTail = [];
    const exitReason = (code, signal) =>
      signal ? `the sidecar was stopped by ${signal}` : `the sidecar exited with code ${code}`;
    child.on("error", (e) => this.onExit(gen, `could not run ${bin.path}: ${errorText(e)}`));
    // 'close' comes once stdout is drained, so answers written just before the
    // exit still count; 'exit' (plus a moment) covers a stdout held open elsewhere.
    child.on("close", (code, signal) => this.onExit(gen, exitReason(code, signal)));
    child.on("exit", (code, signal) => {
      const timer = setTimeout(() => this.onExit(gen, exitReason(code, signal)), 200);
      timer.unref?.();
    });
    for (const stream of [child.stdin, child.stdout, child.stderr]) stream?.on?.("error", () => {});
    child.stdout?.setEncoding?.("utf8");
    child.stdout?.on("data", (chunk) => this.onData(gen, String(chunk)));
    child.stderr?.setEncoding?.("utf8");
    child.stderr?.on("data", (chunk) => this.onStderr(String(chunk)));
    // The sidecar must never keep opencode (or a test runner) alive on its own.
    child.unref?.();
    for (const stream of [child.stdin, child.stdout, child.stderr]) stream?.unref?.();
    this.debug(`started ${bin.path} (found via ${bin.source}), pid ${child.pid}`);
    try {
      this.onStart?.();
    } catch {
      // the health check is best effort
    }
  }

  debug(message) {
    if (this.settings.debug) process.stderr.write(`[${PLUGIN_ID}] ${message}\n`);
  }

  onStderr(chunk) {
    if (this.settings.debug) process.stderr.write(chunk);
    const lines = stripAnsi(chunk)
      .split("\n")
      .filter((l) => l.trim() !== "");
    this.stderrTail.push(...lines);
    if (this.stderrTail.length > 20) this.stderrTail.splice(0, this.stderrTail.length - 20);
  }

  onData(gen, chunk) {
    if (gen.dead) return;
    gen.buffer += chunk;
    let nl;
    while ((nl = gen.buffer.indexOf("\n")) >= 0) {
      const line = gen.buffer.slice(0, nl).trim();
      gen.buffer = gen.buffer.slice(nl + 1);
      if (line !== "") this.onLine(gen, line);
      if (gen.dead) return;
    }
    if (gen.buffer.length > MAX_LINE_CHARS) this.violation(gen, "an over-long line on stdout");
  }

  onLine(gen, line) {
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      this.violation(gen, "output that is not JSON on stdout");
      return;
    }
    const messages = Array.isArray(msg) ? msg : [msg];
    for (const m of messages) {
      if (!isObject(m)) {
        this.violation(gen, "a JSON value that is not a JSON-RPC message");
        return;
      }
      gen.ready = true;
      const hasId = m.id !== undefined && m.id !== null;
      if (typeof m.method === "string") {
        if (hasId) {
          // The protocol has no sidecar → host requests; answer politely.
          this.write(gen, { jsonrpc: "2.0", id: m.id, error: { code: -32601, message: "method not found" } });
        } else {
          this.events.notification(m.method, m.params);
        }
      } else if (hasId && ("result" in m || "error" in m)) {
        this.settle(m);
      } else if (m.id === null && isObject(m.error)) {
        // An error about a line the sidecar could not read: nothing waits for it.
        this.debug(`sidecar error without id: ${m.error.message}`);
      } else {
        this.violation(gen, "a JSON value that is not a JSON-RPC message");
        return;
      }
    }
  }

  settle(m) {
    const p = this.pending.get(m.id);
    if (!p) return; // answered after its timeout: dropped
    this.pending.delete(m.id);
    clearTimeout(p.timer);
    this.timeouts = 0;
    if (isObject(m.error)) p.reject(new SidecarError(m.error));
    else p.resolve(m.result);
  }

  /** The sidecar broke the protocol: kill it; onExit rejects the calls and restarts it. */
  violation(gen, what) {
    if (gen.dead) return;
    const reason = `the sidecar wrote ${what}`;
    this.kill(gen);
    this.onExit(gen, reason);
  }

  kill(gen) {
    try {
      gen.child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }

  write(gen, message) {
    try {
      if (!gen.child.stdin || gen.child.stdin.destroyed || gen.child.stdin.writableEnded) return false;
      gen.child.stdin.write(JSON.stringify(message) + "\n");
      return true;
    } catch {
      return false;
    }
  }

  /** A JSON-RPC notification (no answer); false when it could not be written. */
  notify(method, params) {
    const gen = this.current;
    if (this.closed || !gen) return false;
    return this.write(gen, { jsonrpc: "2.0", method, params });
  }

  call(method, params, timeoutMs) {
    if (this.closed) return Promise.reject(new SidecarUnavailable("the plugin is shutting down"));
    if (this.refused) return Promise.reject(new SidecarUnavailable(this.refused));
    if (!this.current && Date.now() >= this.nextStartAt) this.start();
    const gen = this.current;
    if (!gen) return Promise.reject(new SidecarUnavailable(this.lastReason));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.pending.delete(id)) return;
        const reason = `the sidecar did not answer ${method} within ${timeoutMs} ms`;
        reject(new SidecarTimeout(reason));
        // A sidecar still starting (nothing heard from it yet, inside the start
        // grace) is slow, not broken: the call passes through without a warning.
        // Its `initialize` (timed by the grace) is what decides it is hung.
        const starting = !gen.ready && Date.now() - gen.startedAt < this.settings.startGraceMs;
        if (starting && method !== "initialize") return;
        this.timeouts += 1;
        this.events.failure(reason);
        if ((this.timeouts >= HUNG_AFTER_TIMEOUTS || method === "initialize") && this.current === gen) {
          this.kill(gen);
          this.onExit(gen, `${reason} (restarting it)`);
        }
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer, gen, method });
      const message = { jsonrpc: "2.0", id, method };
      if (params !== undefined) message.params = params;
      if (!this.write(gen, message)) {
        this.pending.delete(id);
        clearTimeout(timer);
        reject(new SidecarUnavailable("could not write to the sidecar"));
      }
    });
  }

  rejectPending(gen, reason) {
    for (const [id, p] of this.pending) {
      if (gen && p.gen !== gen) continue;
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.reject(new SidecarUnavailable(reason));
    }
  }

  onExit(gen, reason) {
    if (gen.dead) return;
    gen.dead = true;
    if (this.current === gen) this.current = null;
    const last = this.stderrTail[this.stderrTail.length - 1];
    const tail = last ? ` (its last log line: ${last.length > 200 ? last.slice(0, 200) + "…" : last})` : "";
    this.lastReason = reason;
    this.rejectPending(gen, reason);
    if (this.closed) return;
    if (Date.now() - gen.startedAt >= STABLE_AFTER_MS) this.delay = this.settings.restartDelayMs;
    this.scheduleRestart();
    this.events.failure(reason + tail);
  }

  /** This binary cannot be used: stop it (EOF, then a kill) and never start it again. */
  refuse(reason) {
    this.refused = reason;
    this.lastReason = reason;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const gen = this.current;
    this.current = null;
    if (!gen) return;
    gen.dead = true;
    this.rejectPending(gen, reason);
    try {
      gen.child.stdin?.end();
    } catch {
      // gone already
    }
    const timer = setTimeout(() => this.kill(gen), 2000);
    timer.unref?.();
  }

  startFailed(reason) {
    this.lastReason = reason;
    this.scheduleRestart();
    this.events.failure(reason);
  }

  scheduleRestart() {
    if (this.closed) return;
    const delay = this.delay;
    this.delay = Math.min(Math.max(this.delay * 2, 1), this.settings.maxRestartDelayMs);
    this.nextStartAt = Date.now() + delay;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      this.start();
    }, delay);
    this.restartTimer.unref?.();
    this.debug(`restarting the sidecar in ${delay} ms`);
  }

  /** Close stdin (EOF: the sidecar flushes and exits), kill it if it lingers. */
  async shutdown(graceMs = 2000) {
    this.closed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const gen = this.current;
    this.rejectPending(null, "the plugin is shutting down");
    if (!gen) return;
    this.current = null;
    const exited = new Promise((resolve) => {
      if (gen.child.exitCode !== null || gen.child.signalCode !== null) resolve();
      else gen.child.once("exit", () => resolve());
    });
    try {
      gen.child.stdin?.end();
    } catch {
      // gone already
    }
    let timer;
    const late = new Promise((resolve) => {
      timer = setTimeout(() => resolve("late"), graceMs);
    });
    const how = await Promise.race([exited, late]);
    clearTimeout(timer);
    if (how === "late") this.kill(gen);
    gen.dead = true;
  }
}

// ---------------------------------------------------------------------------
// request bodies and headers

function findMarker(input, init) {
  const headers = init && init.headers !== undefined && init.headers !== null ? init.headers : isRequest(input) ? input.headers : null;
  if (!headers) return null;
  if (typeof headers.get === "function" && typeof headers.has === "function") {
    return headers.get(MARKER);
  }
  if (Array.isArray(headers)) {
    for (const pair of headers) {
      if (Array.isArray(pair) && String(pair[0]).toLowerCase() === MARKER) return String(pair[1]);
    }
    return null;
  }
  if (typeof headers === "object") {
    for (const key of Object.keys(headers)) {
      if (key.toLowerCase() === MARKER) return headers[key] == null ? null : String(headers[key]);
    }
  }
  return null;
}

function isRequest(v) {
  if (typeof Request !== "undefined" && v instanceof Request) return true;
  return isObject(v) && typeof v.url === "string" && isObject(v.headers) && typeof v.clone === "function" && typeof v.arrayBuffer === "function";
}

function isStreamBody(body) {
  if (!body || typeof body !== "object") return false;
  if (typeof ReadableStream !== "undefined" && body instanceof ReadableStream) return true;
  return typeof body[Symbol.asyncIterator] === "function" && typeof body.arrayBuffer !== "function";
}

/** Own fetch options that must survive a re-send (Bun's `timeout`, `proxy`, `tls`, …). */
const STANDARD_INIT_KEYS = new Set(["method", "headers", "body", "signal", "duplex", "window"]);
const EXTRA_REQUEST_KEYS = ["timeout", "proxy", "tls", "verbose", "decompress", "unix", "dispatcher"];

/** A body fetch can send any number of times as it is: no copy needed for a retry. */
function isReusableBody(body) {
  return body === undefined || body === null || typeof body === "string" || ArrayBuffer.isView(body) || body instanceof ArrayBuffer;
}

const NORMALIZED_METHODS = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]);

/** Fetch options other than the standard ones, from the input Request and the init. */
function extraOptions(input, init) {
  const extra = {};
  if (isRequest(input)) {
    for (const key of EXTRA_REQUEST_KEYS) {
      if (input[key] !== undefined) extra[key] = input[key];
    }
  }
  if (isObject(init)) {
    for (const key of Object.keys(init)) {
      if (!STANDARD_INIT_KEYS.has(key)) extra[key] = init[key];
    }
  }
  return extra;
}

/**
 * Everything the request is made of, so it can be sent again. A URL with a string or bytes body
 * (what opencode's SDKs send) is taken as it came: the body object is passed on untouched. Any
 * other request (a Request, a stream, Blob, FormData, URLSearchParams body) is read once: its
 * body becomes bytes, with the content-type fetch would have derived for it.
 */
async function prepareRequest(input, init) {
  if ((typeof input === "string" || input instanceof URL) && isObject(init) && isReusableBody(init.body)) {
    const headers = new Headers(init.headers ?? undefined);
    headers.delete(MARKER);
    const method = String(init.method ?? "GET");
    return {
      url: new URL(input).href,
      method: NORMALIZED_METHODS.has(method.toUpperCase()) ? method.toUpperCase() : method,
      headers,
      body: init.body ?? undefined,
      signal: init.signal ?? undefined,
      redirect: init.redirect,
      extra: extraOptions(input, init),
    };
  }
  let requestInit = init;
  if (init && isStreamBody(init.body) && init.duplex === undefined) requestInit = { ...init, duplex: "half" };
  const request = new Request(input, requestInit);
  const headers = new Headers(request.headers);
  headers.delete(MARKER);
  let body;
  if (request.method !== "GET" && request.method !== "HEAD" && request.body !== null) {
    body = new Uint8Array(await request.arrayBuffer());
  }
  const signal = init?.signal ?? (isRequest(input) ? input.signal : undefined) ?? undefined;
  return { url: request.url, method: request.method, headers, body, signal, redirect: request.redirect, extra: extraOptions(input, init) };
}

function initFor(prepared, headers) {
  const init = { ...prepared.extra, method: prepared.method, headers };
  if (prepared.redirect !== undefined) init.redirect = prepared.redirect;
  if (prepared.body !== undefined) init.body = prepared.body;
  if (prepared.signal) init.signal = prepared.signal;
  return init;
}

/** Send the caller's request minus the marker header, as untouched as possible. */
function withoutMarker(input, init) {
  try {
    if (init && init.headers !== undefined && init.headers !== null) {
      const headers = new Headers(init.headers);
      headers.delete(MARKER);
      return [input, { ...init, headers }];
    }
    if (isRequest(input) && input.headers.has(MARKER)) {
      const headers = new Headers(input.headers);
      headers.delete(MARKER);
      return [new Request(input, { headers }), init];
    }
  } catch {
    // fall through: send as it came
  }
  return [input, init];
}

/** A prepared body (a string, or bytes) as text. */
function bodyText(body) {
  return typeof body === "string" ? body : new TextDecoder("utf-8").decode(body);
}

/**
 * The prepared request as the sidecar's `switch` says: another URL, the body's top-level fields
 * set and removed (a JSON body only; any other body is kept as it is), the credential headers
 * set and the first provider's account headers removed. Throws when the body cannot be rewritten.
 */
function switchedRequest(prepared, headers, sw) {
  let body = prepared.body;
  const edit = isObject(sw.body) ? sw.body : {};
  const set = isObject(edit.set) ? edit.set : {};
  const remove = Array.isArray(edit.remove) ? edit.remove : [];
  if (body !== undefined && (Object.keys(set).length > 0 || remove.length > 0)) {
    const parsed = JSON.parse(bodyText(body));
    if (!isObject(parsed)) throw new Error("the request body is not a JSON object");
    for (const key of remove) delete parsed[key];
    for (const [key, value] of Object.entries(set)) parsed[key] = value;
    body = JSON.stringify(parsed);
  }
  const next = new Headers(headers);
  for (const name of Array.isArray(sw.removeHeaders) ? sw.removeHeaders : []) next.delete(name);
  next.delete("content-length");
  return { prepared: { ...prepared, url: sw.url, body }, headers: applySetHeaders(next, sw.setHeaders) };
}

/**
 * A final answer for opencode: a plain 400 whose JSON carries the sidecar's message where both
 * the OpenAI-style and the Anthropic-style SDKs read an error's message. opencode does not retry
 * it (the sidecar keeps the words and numbers it retries on out of the message).
 */
function finalResponse(status, message) {
  const text = JSON.stringify({
    type: "error",
    error: { message: stripAnsi(message), type: "invalid_request_error", code: "opencode_balancer_provider_resting" },
  });
  return new Response(text, { status, statusText: "Bad Request", headers: { "content-type": "application/json" } });
}

// `remove`: headers of the original account the chosen one has no value for (removeHeaders).
function applySetHeaders(headers, set, remove) {
  const next = new Headers(headers);
  for (const name of remove ?? []) {
    if (typeof name === "string" && name.toLowerCase() !== MARKER) next.delete(name);
  }
  for (const [name, value] of Object.entries(set)) {
    if (typeof value === "string" && name.toLowerCase() !== MARKER) next.set(name, value);
  }
  return next;
}

/** `{headerNames, authorization?}`: what a request's credential headers depend on (fetch.begin's params). */
function requestShape(headers) {
  const shape = { headerNames: [...new Set(headers.keys())] };
  const authorization = headers.get("authorization");
  if (authorization !== null) shape.authorization = /^bearer\s/i.test(authorization) ? "bearer" : "other";
  return shape;
}

/** Whether two shapes get the same credential headers: the same of the `watch` headers present, the same authorization kind. */
function sameShape(watch, a, b) {
  if (a.authorization !== b.authorization) return false;
  return watch.every((name) => a.headerNames.includes(name) === b.headerNames.includes(name));
}

/** `begin` of a `chat.headers` answer: fetch.begin's answer for the expected request, and the headers it depends on. */
function validBegin(b) {
  return (
    isObject(b) &&
    isObject(b.account) &&
    isStringRecord(b.setHeaders) &&
    optionalStringList(b.removeHeaders) &&
    Array.isArray(b.watch) &&
    b.watch.every((h) => typeof h === "string")
  );
}

function wantedResponseHeader(name) {
  return (
    name.startsWith("retry-after") ||
    name.includes("ratelimit") ||
    name.includes("rate-limit") ||
    name.startsWith("x-codex-") ||
    name === "x-should-retry" ||
    name === "content-type"
  );
}

function reportHeaders(headers) {
  const out = {};
  headers.forEach((value, name) => {
    const key = name.toLowerCase();
    if (wantedResponseHeader(key)) out[key] = value;
  });
  return out;
}

/** The first BODY_PEEK_BYTES of a response's body, read from a clone. */
async function peekBody(response, timeoutMs) {
  let clone;
  try {
    clone = response.clone();
  } catch {
    return undefined;
  }
  const reader = clone.body?.getReader?.();
  if (!reader) return "";
  const chunks = [];
  let total = 0;
  let timer;
  const deadline = new Promise((resolve) => {
    timer = setTimeout(() => resolve(null), timeoutMs);
  });
  try {
    while (total < BODY_PEEK_BYTES) {
      const r = await Promise.race([reader.read(), deadline]);
      if (!r || r.done) break;
      const value = r.value instanceof Uint8Array ? r.value : new Uint8Array(r.value);
      chunks.push(value);
      total += value.byteLength;
    }
  } catch {
    // a broken body: report what was read
  } finally {
    clearTimeout(timer);
    reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(Math.min(total, BODY_PEEK_BYTES));
  let offset = 0;
  for (const c of chunks) {
    if (offset >= bytes.length) break;
    const part = c.subarray(0, bytes.length - offset);
    bytes.set(part, offset);
    offset += part.length;
  }
  // stream:true keeps a multi-byte character cut at the limit out of the text.
  return new TextDecoder("utf-8").decode(bytes, { stream: true });
}

async function discard(response) {
  try {
    await response.body?.cancel();
  } catch {
    // nothing to free
  }
}

// ---------------------------------------------------------------------------
// the look-ahead over the first events of a 2xx event stream (issue 29, docs/continuity.md)
//
// The sidecar decides whether an error event is a refusal (`fetch.stream`); the plugin only
// holds the first events the user would not see anyway and forwards the stream the moment one
// may be content. The pre-check is deliberately cheap and one-sided: an event is held only
// when it is one of the sidecar's neutral events by name (message_start, ping,
// response.created, …), the sidecar is asked only when an event may be an error, and anything
// else is content: forwarded at once, so time to first token does not suffer and a stream
// without an error never costs a sidecar call. Bounds as the sidecar's `Lookahead`: 64 events
// or 256 KiB, then the stream is forwarded without a verdict.

const LOOKAHEAD_MAX_EVENTS = 64;
const LOOKAHEAD_MAX_BYTES = 256 * 1024;

/** Event types that show nothing and commit the model to nothing (src/continuity/stream.rs). */
const NEUTRAL_TYPES = new Set([
  "message_start",
  "ping",
  "content_block_stop",
  "response.created",
  "response.in_progress",
  "response.queued",
  "response.reasoning_summary_part.added",
]);

const TYPE = /"type"\s*:\s*"([^"]{1,80})"/;
const EMPTY_THINKING_START = /"content_block"\s*:\s*\{\s*"type"\s*:\s*"(?:redacted_thinking"|thinking"\s*,\s*"thinking"\s*:\s*""\s*[,}])/;
const REASONING_ITEM = /"item"\s*:\s*\{[^{}[\]]*"type"\s*:\s*"reasoning"/;
const ROLE_ONLY_CHUNK = /"delta"\s*:\s*\{\s*"role"\s*:\s*"assistant"\s*(?:,\s*"content"\s*:\s*(?:""|null)\s*)?\}/;
const ERROR_TYPE = /(^|\.)(error|failed)$/;
const TOP_LEVEL_ERROR = /^\s*\{\s*"error"\s*:/;

/**
 * What the pre-check makes of one event: `"hold"` (neutral by name), `"ask"` (may be an error:
 * the sidecar decides) or `"content"` (forward now).
 */
function precheck(event, data) {
  if (event === "error" || TOP_LEVEL_ERROR.test(data)) return "ask";
  if (data.trim() === "[DONE]") return "hold";
  const type = event && event !== "message" ? event : TYPE.exec(data)?.[1];
  if (type !== undefined && ERROR_TYPE.test(type)) return "ask";
  if (type !== undefined && NEUTRAL_TYPES.has(type)) return "hold";
  if (type === "content_block_start" && EMPTY_THINKING_START.test(data)) return "hold";
  if ((type === "response.output_item.added" || type === "response.output_item.done") && REASONING_ITEM.test(data)) return "hold";
  if (type === undefined && ROLE_ONLY_CHUNK.test(data) && !data.includes('"tool_calls"')) return "hold";
  return "content";
}

/** One server-sent event block as `{event?, data}`; null for a block without data (comments). */
function parseEvent(block) {
  let event;
  const data = [];
  for (const line of block.split(/\r\n|\r|\n/)) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  if (data.length === 0) return null;
  return event === undefined ? { data: data.join("\n") } : { event, data: data.join("\n") };
}

const BOUNDARY = /\r\n\r\n|\n\n|\r\r/;

/** Whether a response is a server-sent event stream. */
function isEventStream(response) {
  return Boolean(response.body) && /^\s*text\/event-stream/i.test(response.headers.get("content-type") ?? "");
}

/**
 * Holds the first events of a 2xx event stream while the pre-check calls them neutral; `ask`
 * (the held events → the sidecar's `fetch.stream` answer) is called when one may be an error.
 * Resolves to `{answer, response}`: `answer` null when the stream is to be forwarded (content
 * came, the bounds were reached, the stream ended, or the sidecar said `forward`), else the
 * sidecar's answer to the refusal; `response` replays every byte read, then the rest.
 */
async function lookAhead(response, ask) {
  const reader = response.body.getReader();
  const held = [];
  const decoder = new TextDecoder("utf-8");
  const events = [];
  let text = "";
  let bytes = 0;
  let answer = null;
  outer: for (;;) {
    let r;
    try {
      r = await reader.read();
    } catch {
      break;
    }
    if (r.done) break;
    held.push(r.value);
    text += decoder.decode(r.value, { stream: true });
    for (let m = BOUNDARY.exec(text); m; m = BOUNDARY.exec(text)) {
      const ev = parseEvent(text.slice(0, m.index));
      text = text.slice(m.index + m[0].length);
      if (!ev) continue;
      events.push(ev);
      bytes += ev.data.length + (ev.event?.length ?? 0);
      const kind = precheck(ev.event, ev.data);
      if (kind === "content") break outer;
      if (kind === "ask") {
        let a;
        try {
          a = await ask(events);
        } catch {
          break outer;
        }
        if (a?.action === "hold") continue;
        if (a?.action !== "forward") answer = a;
        break outer;
      }
      if (events.length >= LOOKAHEAD_MAX_EVENTS || bytes >= LOOKAHEAD_MAX_BYTES) break outer;
    }
    if (bytes + text.length >= LOOKAHEAD_MAX_BYTES) break;
  }
  const replay = new ReadableStream({
    start(controller) {
      for (const chunk of held) controller.enqueue(chunk);
    },
    async pull(controller) {
      try {
        const r = await reader.read();
        if (r.done) controller.close();
        else controller.enqueue(r.value);
      } catch (e) {
        controller.error(e);
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  const rebuilt = new Response(replay, { status: response.status, statusText: response.statusText, headers: response.headers });
  return { answer, response: rebuilt };
}

// ---------------------------------------------------------------------------
// answers from the sidecar, checked before use

const VALID = {
  initialize: (r) => isObject(r),
  "chat.message": (r) =>
    isObject(r) &&
    (r.model === undefined ||
      r.model === null ||
      (isObject(r.model) && typeof r.model.providerID === "string" && typeof r.model.modelID === "string")),
  "chat.headers": (r) =>
    isObject(r) &&
    (r.requestID === undefined || r.requestID === null || typeof r.requestID === "string") &&
    (r.syncAuth === undefined || r.syncAuth === null || validSyncAuth(r.syncAuth)),
  "fetch.begin": (r) =>
    isObject(r) &&
    (r.action === "switch"
      ? validSwitch(r)
      : r.action === "fail"
        ? validFail(r)
        : r.passthrough === true || (isStringRecord(r.setHeaders) && optionalStringList(r.removeHeaders))),
  "fetch.result": (r) =>
    isObject(r) &&
    (r.action === "return" ||
      (r.action === "retry" &&
        isStringRecord(r.setHeaders) &&
        optionalStringList(r.removeHeaders) &&
        (r.syncAuth === undefined || r.syncAuth === null || validSyncAuth(r.syncAuth))) ||
      (r.action === "switch" && validSwitch(r)) ||
      (r.action === "fail" && validFail(r))),
  "fetch.stream": (r) => isObject(r) && (r.action === "hold" || r.action === "forward" || VALID["fetch.result"](r)),
  "continuity.strip": (r) => isObject(r) && (r.body === undefined || typeof r.body === "string"),
  "providers.describe": (r) => isObject(r),
  "command.run": (r) => isObject(r) && typeof r.output === "string",
  "session.get": (r) => isObject(r),
};

/** `switch`: send the request to another provider (docs/protocol.md, "Keeping a turn going"). */
function validSwitch(r) {
  return (
    typeof r.url === "string" &&
    /^https?:\/\//i.test(r.url) &&
    isStringRecord(r.setHeaders) &&
    (r.removeHeaders === undefined || (Array.isArray(r.removeHeaders) && r.removeHeaders.every((h) => typeof h === "string"))) &&
    (r.body === undefined ||
      (isObject(r.body) &&
        (r.body.set === undefined || isObject(r.body.set)) &&
        (r.body.remove === undefined || (Array.isArray(r.body.remove) && r.body.remove.every((k) => typeof k === "string"))))) &&
    (r.syncAuth === undefined || r.syncAuth === null || validSyncAuth(r.syncAuth))
  );
}

/** `fail`: answer opencode at once with this final error. */
function validFail(r) {
  return (
    typeof r.message === "string" &&
    Number.isInteger(r.status) &&
    r.status >= 400 &&
    r.status < 500 &&
    (r.resubmit === undefined ||
      (isObject(r.resubmit) &&
        typeof r.resubmit.sessionID === "string" &&
        typeof r.resubmit.providerID === "string" &&
        typeof r.resubmit.modelID === "string" &&
        typeof r.resubmit.message === "string"))
  );
}

function validSyncAuth(s) {
  return isObject(s) && typeof s.providerID === "string" && s.providerID !== "" && isObject(s.auth) && typeof s.auth.type === "string";
}

// ---------------------------------------------------------------------------
// the process-wide runtime: one sidecar and one fetch patch per process

class Runtime {
  constructor(settings) {
    this.settings = settings;
    this.refs = 0;
    this.clients = [];
    this.closed = false;
    this.outage = false;
    this.lastWarnAt = -Infinity;
    this.originalFetch = null;
    this.patchedFetch = null;
    /** sessionID → the user's latest parts, for sending a message again on another model. */
    this.lastParts = new Map();
    /** requestID → what chat.headers answered for it (its provider, fetch.begin's answer), until it is sent. */
    this.held = new Map();
    /** providerID → the shape of its last request, told to the next chat.headers. */
    this.shapes = new Map();
    /** Bumped when a pick may have changed (see `stillGood`): for all providers, and per provider. */
    this.epoch = 0;
    this.providerEpochs = new Map();
    this.sidecar = new Sidecar(
      {
        resolve: () => resolveBinary(settings.options),
        args: settings.args,
        restartDelayMs: settings.restartDelayMs,
        maxRestartDelayMs: settings.maxRestartDelayMs,
        startGraceMs: settings.startGraceMs,
        debug: settings.debug,
      },
      {
        notification: (method, params) => this.onNotification(method, params),
        failure: (reason) => this.failure(reason),
      },
    );
  }

  get client() {
    return this.clients[this.clients.length - 1] ?? null;
  }

  begin() {
    this.installFetch();
    this.sidecar.onStart = () => this.initialize();
    this.sidecar.start();
  }

  /** Sent to every new sidecar; its answer (or silence) is the health check, and its protocol version is checked. */
  initialize() {
    const gen = this.sidecar.current;
    this.call("initialize", { client: { name: PLUGIN_ID, version: PLUGIN_VERSION } }, this.settings.startGraceMs)
      .then((r) => {
        if (r.protocolVersion === PROTOCOL_VERSION) return;
        if (!gen || this.sidecar.current !== gen) return;
        this.incompatible(gen.bin, r);
      })
      .catch(() => {});
  }

  /** The sidecar does not speak this plugin's protocol: stop using it and tell the user, once. */
  incompatible(bin, answer) {
    const version = isObject(answer.server) && typeof answer.server.version === "string" ? ` ${answer.server.version}` : "";
    const spoken = typeof answer.protocolVersion === "number" ? `protocol ${answer.protocolVersion}` : "no protocol version";
    const newer = typeof answer.protocolVersion === "number" && answer.protocolVersion > PROTOCOL_VERSION;
    const advice = newer
      ? `upgrade the plugin to match the binary (the npm package opencode-balancer, or \`${BINARY_NAME} install\` again)`
      : `upgrade the binary to ${PLUGIN_VERSION}: ${WHAT_TO_DO}`;
    const reason = `${bin}${version} speaks ${spoken}, this plugin ${PLUGIN_VERSION} needs protocol ${PROTOCOL_VERSION}`;
    this.sidecar.refuse(reason);
    const message = `opencode-balancer is off: ${reason}. Requests go to the provider unchanged. To fix it, ${advice}.`;
    this.note(message);
    if (this.outage) return; // the user was told already
    this.outage = true;
    this.lastWarnAt = Date.now();
    try {
      console.error(`[${PLUGIN_ID}] ${message}`);
    } catch {
      // no console: the toast still tells
    }
    this.toast(message, "warning", 15000);
  }

  note(message) {
    if (this.settings.debug) process.stderr.write(`[${PLUGIN_ID}] ${message}\n`);
  }

  /** One warning per outage (and at most one per warnIntervalMs), never one per request. */
  failure(reason) {
    if (this.closed) return;
    this.note(`sidecar problem: ${reason}`);
    if (this.outage) return;
    this.outage = true;
    const now = Date.now();
    if (now - this.lastWarnAt < this.settings.warnIntervalMs) return;
    this.lastWarnAt = now;
    const message = `opencode-balancer is unavailable: ${reason}. Requests go to the provider unchanged until it is back.`;
    try {
      console.error(`[${PLUGIN_ID}] ${message}`);
    } catch {
      // no console: the toast still tells
    }
    this.toast(message, "warning", 8000);
  }

  /** A call to the sidecar with a checked answer; rejects on any problem. */
  async call(method, params, timeoutMs = this.settings.timeoutMs) {
    const result = await this.sidecar.call(method, params, timeoutMs);
    const valid = VALID[method];
    if (valid && !valid(result)) {
      this.failure(`the sidecar gave an unexpected answer to ${method}`);
      throw new SidecarError({ message: `unexpected answer to ${method}` });
    }
    this.outage = false;
    return result;
  }

  onNotification(method, params) {
    try {
      if (method === "toast" && isObject(params) && typeof params.message === "string") {
        const variant = ["info", "success", "warning", "error"].includes(params.variant) ? params.variant : "info";
        this.toast(params.message, variant, typeof params.duration === "number" ? params.duration : 5000);
      } else if (method === "auth.sync" && validSyncAuth(params)) {
        this.syncAuth(params).catch(() => {});
      } else if (method === "event") {
        this.note(`event ${isObject(params) ? params.type : "?"}`);
        this.picksChanged(isObject(params) && typeof params.providerID === "string" ? params.providerID : null);
      } else if (method === "store.changed") {
        this.picksChanged(null);
      }
    } catch {
      // a notification never breaks anything
    }
  }

  toast(message, variant, duration) {
    const client = this.client;
    if (!client?.tui?.showToast) return;
    // What stripAnsi leaves of controls and bidi overrides shows as `\u{…}`, lines kept (as
    // tui/view.js safeText(text, true); this file is installed alone, so it cannot import it).
    message = String(stripAnsi(message) ?? "").replace(
      /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu,
      (c) => `\\u{${c.codePointAt(0).toString(16)}}`,
    );
    withTimeout(
      Promise.resolve().then(() => client.tui.showToast({ body: { title: "opencode-balancer", message, variant, duration } })),
      5000,
      "showToast",
    ).catch(() => {}); // headless runs have no TUI: ignored quietly
  }

  /** Writes a credential as opencode's own auth for the provider; never throws. */
  async syncAuth(sync) {
    const client = this.client;
    if (!client?.auth?.set) return false;
    try {
      const r = await withTimeout(
        Promise.resolve().then(() => client.auth.set({ path: { id: sync.providerID }, body: sync.auth })),
        3000,
        "auth.set",
      );
      return !(isObject(r) && r.error);
    } catch {
      return false;
    }
  }

  async runCommand(text) {
    try {
      const r = await this.call("command.run", { text }, this.settings.commandTimeoutMs);
      return r.output;
    } catch (e) {
      if (e instanceof SidecarError && e.code !== undefined) return `opencode-balancer: ${e.message}`;
      return `opencode-balancer is unavailable: ${errorText(e)}`;
    }
  }

  installFetch() {
    if (this.patchedFetch || typeof globalThis.fetch !== "function") return;
    const original = globalThis.fetch;
    const runtime = this;
    const patched = function fetch(input, init, ...rest) {
      let marker = null;
      try {
        marker = findMarker(input, init);
      } catch {
        marker = null;
      }
      if (marker === null) return original(input, init, ...rest);
      return runtime.managedFetch(original, input, init, marker);
    };
    for (const key of Object.keys(original)) {
      try {
        patched[key] = original[key];
      } catch {
        // read-only property: skip
      }
    }
    if (typeof original.preconnect === "function" && patched.preconnect === undefined) {
      patched.preconnect = original.preconnect.bind(original);
    }
    this.originalFetch = original;
    this.patchedFetch = patched;
    globalThis.fetch = patched;
  }

  restoreFetch() {
    if (!this.patchedFetch) return;
    // Someone patched on top of us: leave their wrapper; ours only passes through now.
    if (globalThis.fetch === this.patchedFetch) globalThis.fetch = this.originalFetch;
    this.patchedFetch = null;
  }

  /**
   * The shape `chat.headers` tells the sidecar to expect for a request to `providerID`: that of
   * its last request, else a bearer.
   */
  expectedShape(providerID) {
    return this.shapes.get(providerID) ?? FIRST_SHAPE;
  }

  /** Where the pick epochs of `providerID` stand (taken before chat.headers is asked). */
  pickMark(providerID) {
    return { gen: this.sidecar.current, at: Date.now(), epoch: this.epoch, providerEpoch: this.providerEpochs.get(providerID) ?? 0 };
  }

  /**
   * Keeps what chat.headers answered for a request until its fetch; `mark` is `pickMark` from
   * before the call, so a change told while the answer was on its way counts.
   */
  hold(requestID, providerID, expected, begin, mark) {
    this.held.delete(requestID);
    this.held.set(requestID, { providerID, expected, begin: validBegin(begin) ? begin : null, ...mark });
    if (this.held.size > MAX_HELD) this.held.delete(this.held.keys().next().value);
  }

  /**
   * A pick may have changed: an event about the provider (a cooldown, a refused login, a change
   * by the user, a refreshed token; `null`: any provider), another process's change to the store,
   * or a refusal this plugin saw. Answers held from before then are not used.
   */
  picksChanged(providerID) {
    if (providerID === null) this.epoch += 1;
    else this.providerEpochs.set(providerID, (this.providerEpochs.get(providerID) ?? 0) + 1);
  }

  /**
   * The `fetch.begin` answer held for a request of `shape`, when it still holds: the same sidecar
   * answered it less than HELD_FRESH_MS ago, nothing changed a pick since, and the request has the
   * headers the answer depends on as it was expected to. Else null: ask fetch.begin.
   */
  stillGood(held, shape) {
    if (!held?.begin) return null;
    const fresh = this.sidecar.current === held.gen && Date.now() - held.at < HELD_FRESH_MS;
    const unchanged = this.epoch === held.epoch && (this.providerEpochs.get(held.providerID) ?? 0) === held.providerEpoch;
    return fresh && unchanged && sameShape(held.begin.watch, held.expected, shape) ? held.begin : null;
  }

  /** The request's credential headers: the held answer, else fetch.begin's (which may move or end the request). */
  async beginRequest(requestID, prepared, shape, held) {
    const ready = this.stillGood(held, shape);
    if (ready) {
      const headers = applySetHeaders(prepared.headers, ready.setHeaders, ready.removeHeaders);
      return { moved: await this.stripped(prepared, headers, ready), skipped: true };
    }
    const begin = await this.call("fetch.begin", { requestID, url: prepared.url, method: prepared.method, ...shape });
    if (begin.action === "fail") return { final: this.finalAnswer(begin) };
    if (begin.action === "switch") return { moved: await this.carrySwitch(prepared, prepared.headers, begin) };
    if (begin.passthrough === true) return { headers: prepared.headers };
    const headers = applySetHeaders(prepared.headers, begin.setHeaders, begin.removeHeaders);
    return { moved: await this.stripped(prepared, headers, begin) };
  }

  /**
   * The request as the sidecar's `stripState` says (docs/continuity.md): without the
   * conversation state another account or provider produced, edited by the sidecar
   * (`continuity.strip`). Without `stripState` (the request is on the account that produced
   * its state) nothing is asked and the body goes out byte for byte. A body already edited
   * with that scope (or a wider one) is not sent again; any failure sends it as it is.
   */
  async stripped(prepared, headers, answer) {
    const scope = isObject(answer.stripState) ? answer.stripState.scope : undefined;
    if (scope !== "same-provider" && scope !== "provider-move") return { prepared, headers };
    if (prepared.body === undefined || prepared.stripped === scope || prepared.stripped === "provider-move") return { prepared, headers };
    let text;
    try {
      text = typeof prepared.body === "string" ? prepared.body : new TextDecoder("utf-8", { fatal: true }).decode(prepared.body);
    } catch {
      return { prepared, headers };
    }
    let r;
    try {
      r = await this.call("continuity.strip", { url: prepared.url, body: text, scope });
    } catch (e) {
      this.note(`could not remove another account's conversation state (${errorText(e)}); sending the request as it is`);
      return { prepared, headers };
    }
    if (typeof r.body !== "string") return { prepared: { ...prepared, stripped: scope }, headers };
    const next = new Headers(headers);
    next.delete("content-length");
    return { prepared: { ...prepared, body: r.body, stripped: scope }, headers: next };
  }

  async managedFetch(original, input, init, requestID) {
    const held = this.held.get(requestID);
    this.held.delete(requestID);
    let prepared;
    try {
      prepared = await prepareRequest(input, init);
    } catch (e) {
      this.note(`could not prepare a marked request (${errorText(e)}); sending it as is`);
      return original(...withoutMarker(input, init));
    }
    const sendAs = (req, headers) => original(req.url, initFor(req, headers));
    if (this.closed) return sendAs(prepared, prepared.headers);

    const shape = requestShape(prepared.headers);
    if (held) {
      this.shapes.delete(held.providerID);
      this.shapes.set(held.providerID, shape);
      if (this.shapes.size > MAX_HELD) this.shapes.delete(this.shapes.keys().next().value);
    }
    let headers;
    // Sent without asking fetch.begin: a refusal tells the sidecar what went out.
    let sent;
    try {
      const b = await this.beginRequest(requestID, prepared, shape, held);
      if (b.final) return b.final;
      if (b.skipped) sent = { url: prepared.url, ...shape };
      if (b.moved) ({ prepared, headers } = b.moved);
      else headers = b.headers ?? prepared.headers;
    } catch {
      return sendAs(prepared, prepared.headers);
    }

    for (let attempt = 1; ; attempt++) {
      let response = await sendAs(prepared, headers);
      const params = { requestID, attempt, status: response.status, headers: reportHeaders(response.headers) };
      if (sent && attempt === 1) params.sent = sent;
      let verdict;
      if (response.status >= 200 && response.status < 300) {
        // An event stream may still refuse in its first events (lookAhead below): asked only then.
        const look = isEventStream(response) ? await lookAhead(response, (events) => this.call("fetch.stream", { ...params, events })) : null;
        if (look) response = look.response;
        if (!look?.answer) {
          // The answer to a 2xx is always `return`: told, not awaited.
          delete params.sent;
          this.sidecar.notify("fetch.result", params);
          return response;
        }
        verdict = look.answer;
        if (held) this.picksChanged(held.providerID);
      } else {
        // Refused: a request held for the same provider asks fetch.begin again.
        if (held) this.picksChanged(held.providerID);
        const body = await peekBody(response, this.settings.timeoutMs);
        if (body !== undefined) params.body = body;
        try {
          verdict = await this.call("fetch.result", params);
        } catch {
          return response;
        }
      }
      if (verdict.action === "fail") {
        await discard(response);
        return this.finalAnswer(verdict);
      }
      if (!["retry", "switch"].includes(verdict.action) || attempt >= HARD_MAX_ATTEMPTS || prepared.signal?.aborted) return response;
      if (verdict.action === "switch") {
        const moved = await this.carrySwitch(prepared, headers, verdict);
        if (!moved) return response;
        await discard(response);
        ({ prepared, headers } = moved);
        continue;
      }
      let next;
      try {
        next = applySetHeaders(headers, verdict.setHeaders, verdict.removeHeaders);
      } catch {
        return response; // a header value fetch refuses
      }
      if (verdict.syncAuth) await this.syncAuth(verdict.syncAuth);
      await discard(response);
      ({ prepared, headers } = await this.stripped(prepared, next, verdict));
    }
  }

  /** The request moved to another provider, or null when it cannot be rewritten. */
  async carrySwitch(prepared, headers, sw) {
    let moved;
    try {
      moved = switchedRequest(prepared, headers, sw);
    } catch (e) {
      this.note(`could not move the request to ${sw.account?.providerID ?? "the next provider"} (${errorText(e)})`);
      return null;
    }
    if (sw.syncAuth) await this.syncAuth(sw.syncAuth);
    return this.stripped(moved.prepared, moved.headers, sw);
  }

  /**
   * Ends opencode's wait with the sidecar's final message. With `resubmit` and a host that keeps
   * running after the error (the TUI, `opencode serve`; not `opencode run`, which exits), the
   * user's message is then sent again on the new model: abort the turn, promptAsync.
   */
  finalAnswer(fail) {
    const r = fail.resubmit;
    const parts = r ? this.lastParts.get(r.sessionID) : undefined;
    if (r && parts && this.settings.resubmit && this.client?.session?.promptAsync) {
      const client = this.client;
      setTimeout(() => {
        this.resubmit(client, r, parts).catch((e) => this.note(`could not send the message again: ${errorText(e)}`));
      }, 0);
      return finalResponse(fail.status, r.message);
    }
    return finalResponse(fail.status, fail.message);
  }

  async resubmit(client, r, parts) {
    const path = { id: r.sessionID };
    if (client.session.abort) await withTimeout(Promise.resolve().then(() => client.session.abort({ path })), 5000, "session.abort");
    await withTimeout(
      Promise.resolve().then(() =>
        client.session.promptAsync({ path, body: { model: { providerID: r.providerID, modelID: r.modelID }, parts } }),
      ),
      5000,
      "session.promptAsync",
    );
  }

  /** The user's parts of a session's latest message, as promptAsync takes them (text and files). */
  rememberParts(sessionID, parts) {
    if (!Array.isArray(parts)) return;
    const kept = [];
    for (const p of parts) {
      if (!isObject(p) || p.synthetic === true || p.ignored === true) continue;
      if (p.type === "text" && typeof p.text === "string") kept.push({ type: "text", text: p.text });
      else if (p.type === "file" && typeof p.url === "string" && typeof p.mime === "string") {
        kept.push({ type: "file", mime: p.mime, url: p.url, ...(typeof p.filename === "string" ? { filename: p.filename } : {}) });
      }
    }
    if (kept.length === 0) return;
    this.lastParts.delete(sessionID);
    this.lastParts.set(sessionID, kept);
    if (this.lastParts.size > 100) this.lastParts.delete(this.lastParts.keys().next().value);
  }

  /** Tells the sidecar each configured provider's SDK package, base URL and headers (for moves). */
  describeProviders(cfg) {
    const providers = [];
    for (const [providerID, p] of Object.entries(isObject(cfg?.provider) ? cfg.provider : {})) {
      if (!isObject(p)) continue;
      const entry = { providerID };
      if (typeof p.npm === "string") entry.npm = p.npm;
      const baseURL = isObject(p.options) ? p.options.baseURL : undefined;
      if (typeof baseURL === "string") entry.baseURL = baseURL;
      // Its own configured headers: the sidecar sets them on a request moved to it.
      const headers = isObject(p.options) ? p.options.headers : undefined;
      if (isStringRecord(headers) && Object.keys(headers).length > 0) entry.headers = headers;
      if (entry.npm || entry.baseURL) providers.push(entry);
    }
    if (providers.length === 0) return;
    this.call("providers.describe", { providers }).catch(() => {});
  }

  /**
   * Stores the typed `/balancer …` in the session as a user message that asks for no reply
   * (`noReply`), so the command's own message can become the answer to it (answerCommand).
   * Its id, or undefined when the client has no session API or the call failed.
   */
  async storeCommandQuestion(client, sessionID, typed) {
    if (!client?.session?.prompt || typeof sessionID !== "string") return undefined;
    try {
      const r = await withTimeout(
        Promise.resolve().then(() =>
          client.session.prompt({
            path: { id: sessionID },
            body: { noReply: true, parts: [{ type: "text", text: typed }] },
          }),
        ),
        5000,
        "session.prompt",
      );
      const id = r?.data?.info?.id;
      return r?.error === undefined && typeof id === "string" && id !== "" ? id : undefined;
    } catch {
      return undefined;
    }
  }

  retain(client) {
    this.refs += 1;
    if (client) this.clients.push(client);
  }

  async release(client) {
    const i = this.clients.lastIndexOf(client);
    if (i >= 0) this.clients.splice(i, 1);
    this.refs = Math.max(0, this.refs - 1);
    if (this.refs > 0 || this.closed) return;
    this.closed = true;
    if (globalThis[RUNTIME_KEY] === this) delete globalThis[RUNTIME_KEY];
    this.restoreFetch();
    if (this.skillFolder) rmSync(this.skillFolder, { recursive: true, force: true });
    await this.sidecar.shutdown();
  }

  /**
   * A folder holding the `balancer` skill (see registerCommand), made once per process in the
   * temporary folder and removed with the runtime; undefined when it cannot be written.
   */
  balancerSkills() {
    if (this.skillFolder === undefined) {
      try {
        const folder = mkdtempSync(join(tmpdir(), "opencode-balancer-skill-"));
        mkdirSync(join(folder, COMMAND));
        writeFileSync(join(folder, COMMAND, "SKILL.md"), SKILL_TEXT, { mode: 0o600 });
        this.skillFolder = folder;
        // Also when opencode exits without disposing the plugin.
        process.once("exit", () => rmSync(folder, { recursive: true, force: true }));
      } catch {
        this.skillFolder = null;
      }
    }
    return this.skillFolder ?? undefined;
  }
}

/**
 * Whether the host keeps running after a turn ends, so a message can be sent again on another
 * model (the TUI, `opencode serve`); `opencode run` exits first. Option `resubmit`: true/false.
 * Checked with opencode 1.18.33: under `opencode run "hi"` a plugin sees process.argv
 * ["bun", "/$bunfs/root/src/index.js", "run", "hi"].
 */
function resubmitAllowed(options) {
  if (typeof options.resubmit === "boolean") return options.resubmit;
  return !underOpencodeRun();
}

/** Whether this process is `opencode run` (no TUI, exits after one turn). */
function underOpencodeRun() {
  return process.argv.slice(1, 4).includes("run");
}

function settingsFrom(options) {
  const args = [];
  if (typeof options.store === "string" && options.store !== "") args.push("--store", options.store);
  return {
    options,
    args,
    timeoutMs: numberSetting(options.timeoutMs, "OPENCODE_BALANCER_TIMEOUT_MS", 1500),
    commandTimeoutMs: numberSetting(options.commandTimeoutMs, "OPENCODE_BALANCER_COMMAND_TIMEOUT_MS", 15000),
    restartDelayMs: numberSetting(options.restartDelayMs, "OPENCODE_BALANCER_RESTART_MS", 1000),
    startGraceMs: numberSetting(options.startGraceMs, "OPENCODE_BALANCER_START_GRACE_MS", 5000),
    maxRestartDelayMs: numberSetting(options.maxRestartDelayMs, "OPENCODE_BALANCER_RESTART_MAX_MS", 30000),
    warnIntervalMs: numberSetting(options.warnIntervalMs, "OPENCODE_BALANCER_WARN_INTERVAL_MS", 60000),
    debug: options.debug === true || envFlag("OPENCODE_BALANCER_DEBUG"),
    resubmit: resubmitAllowed(options),
  };
}

/** `{npm?, baseURL?}` of the provider a request is for, from opencode's model and provider. */
function providerApi(model, provider) {
  const api = {};
  const npm = model?.api?.npm ?? provider?.info?.npm ?? provider?.npm;
  const baseURL = provider?.options?.baseURL ?? provider?.info?.options?.baseURL ?? model?.api?.url;
  if (typeof npm === "string" && npm !== "") api.npm = npm;
  if (typeof baseURL === "string" && baseURL !== "") api.baseURL = baseURL;
  return api.npm || api.baseURL ? api : null;
}

function acquireRuntime(options, client) {
  let runtime = globalThis[RUNTIME_KEY];
  if (runtime && !runtime.closed) {
    runtime.retain(client);
    return runtime;
  }
  runtime = new Runtime(settingsFrom(options));
  globalThis[RUNTIME_KEY] = runtime;
  runtime.retain(client); // first, so a warning at start has a client to toast with
  runtime.begin();
  return runtime;
}

// ---------------------------------------------------------------------------
// the plugin

/**
 * opencode calls this once per project instance; all instances of a process
 * share one sidecar and one fetch patch (released by the last `dispose`).
 */
const COMMAND_DESCRIPTION = "opencode-balancer: accounts, failover, balancing (try /balancer help)";
/** The `balancer` skill: what opencode lists and uses as the command's template (replaced by the answer). */
const SKILL_TEXT = `---
name: ${COMMAND}
description: ${COMMAND_DESCRIPTION}
---
The /${COMMAND} command of the opencode-balancer plugin, which answers it itself.
`;

/**
 * Makes `balancer` a server command, so `/balancer list` (typed in the TUI) and
 * `opencode run --command balancer list` reach command.execute.before. opencode 1.18.33 lists every
 * server command in the TUI's slash list except skills, and a TUI slash name runs on one Enter
 * while a listed server command takes two; so the command is a skill (a SKILL.md in a folder
 * added to `skills.paths`): left out of the slash list, where the TUI plugin's `/balancer`
 * (the dashboard) is the one entry, and denied to the model (`permission.skill`), which neither
 * sees nor loads it. When the folder cannot be written, a config command as before (listed).
 * A `balancer` command of the user's own is left alone.
 */
function registerCommand(cfg, runtime) {
  if (isObject(cfg.command) && cfg.command[COMMAND]) return;
  const folder = runtime.balancerSkills();
  if (!folder) {
    if (!isObject(cfg.command)) cfg.command = {};
    cfg.command[COMMAND] = { template: "$ARGUMENTS", description: COMMAND_DESCRIPTION };
    return;
  }
  if (!isObject(cfg.skills)) cfg.skills = {};
  const paths = Array.isArray(cfg.skills.paths) ? cfg.skills.paths : [];
  if (!paths.includes(folder)) cfg.skills.paths = [...paths, folder];
  if (!isObject(cfg.permission)) cfg.permission = typeof cfg.permission === "string" ? { "*": cfg.permission } : {};
  const skill = cfg.permission.skill;
  cfg.permission.skill = { ...(isObject(skill) ? skill : typeof skill === "string" ? { "*": skill } : {}), [COMMAND]: "deny" };
}

/** Asks the TUI to run the TUI plugin's `balancer.open`; false in a headless run (no TUI). */
async function openTuiDashboard(client) {
  if (!client?.tui?.publish) return false;
  try {
    const r = await withTimeout(
      Promise.resolve(
        client.tui.publish({ body: { type: "tui.command.execute", properties: { command: "balancer.open" } } }),
      ),
      1000,
      "tui.publish",
    );
    return r?.error === undefined && r?.response?.ok !== false;
  } catch {
    return false;
  }
}

/** The channel the TUI plugin asks on which account a session is on (tui/index.js). */
const SESSION_CHANNEL = "opencode-balancer.session";

/**
 * Answers the TUI plugin's `{type:"session.get", sessionID}` on SESSION_CHANNEL with
 * `{type:"session", sessionID, result}` from this sidecar's `session.get` (its bindings live here, not
 * in the TUI's own sidecar). Read-only; returns the function that stops answering.
 */
function answerSessionQueries(runtime) {
  if (typeof BroadcastChannel !== "function") return () => {};
  let channel;
  try {
    channel = new BroadcastChannel(SESSION_CHANNEL);
  } catch {
    return () => {};
  }
  channel.unref?.();
  channel.onmessage = async (e) => {
    const q = e?.data;
    if (!isObject(q) || q.type !== "session.get" || typeof q.sessionID !== "string") return;
    try {
      const result = await runtime.call("session.get", { sessionID: q.sessionID }, 2000);
      channel.postMessage({ type: "session", sessionID: q.sessionID, result });
    } catch {
      // no answer: the TUI falls back to the provider's active account
    }
  };
  return () => channel.close();
}

export async function server(input, options) {
  const opts = isObject(options) ? options : {};
  if (opts.disabled === true || envFlag("OPENCODE_BALANCER_DISABLE")) return {};
  const client = input?.client ?? null;
  const runtime = acquireRuntime(opts, client);
  const stopAnswering = answerSessionQueries(runtime);
  let released = false;

  return {
    async config(cfg) {
      if (!isObject(cfg)) return;
      runtime.describeProviders(cfg);
      registerCommand(cfg, runtime);
    },

    async "chat.message"(hookInput, output) {
      const sessionID = hookInput?.sessionID;
      if (typeof sessionID !== "string") return;
      const params = { sessionID };
      const m = hookInput.model;
      if (isObject(m) && typeof m.providerID === "string" && typeof m.modelID === "string") {
        params.model = { providerID: m.providerID, modelID: m.modelID };
      }
      const questionID = commandAnswerOf(output?.parts);
      if (questionID !== undefined && isObject(output.message)) {
        answerCommand(output, questionID, input ?? {});
        return;
      }
      runtime.rememberParts(sessionID, output?.parts);
      let result;
      try {
        result = await runtime.call("chat.message", params);
      } catch {
        return;
      }
      const chosen = result.model;
      if (!chosen || !isObject(output?.message)) return;
      const current = output.message.model;
      if (isObject(current) && current.providerID === chosen.providerID && current.modelID === chosen.modelID) return;
      // opencode 1.18 keeps {providerID, modelID, variant?} here; a variant
      // belongs to the previous model, so it does not carry over.
      output.message.model = { providerID: chosen.providerID, modelID: chosen.modelID };
    },

    async "chat.headers"(hookInput, output) {
      const sessionID = hookInput?.sessionID;
      const model = hookInput?.model;
      const providerID = model?.providerID ?? hookInput?.provider?.info?.id ?? hookInput?.provider?.id;
      const modelID = model?.id ?? model?.modelID ?? "";
      if (typeof sessionID !== "string" || typeof providerID !== "string") return;
      const params = { sessionID, providerID, modelID: String(modelID) };
      const api = providerApi(model, hookInput?.provider);
      if (api) params.api = api;
      params.fetch = runtime.expectedShape(providerID);
      const mark = runtime.pickMark(providerID);
      let result;
      try {
        result = await runtime.call("chat.headers", params);
      } catch {
        return;
      }
      if (result.syncAuth) await runtime.syncAuth(result.syncAuth);
      if (typeof result.requestID === "string" && result.requestID !== "" && isObject(output)) {
        runtime.hold(result.requestID, providerID, params.fetch, result.begin, mark);
        if (!isObject(output.headers)) output.headers = {};
        output.headers[MARKER] = result.requestID;
      }
    },

    async "command.execute.before"(hookInput, output) {
      if (hookInput?.command !== COMMAND) return;
      const text = typeof hookInput.arguments === "string" ? hookInput.arguments.trim() : "";
      // Plain `/balancer` in the TUI opens the TUI plugin's dashboard (tui/index.js, `balancer.open`).
      // Under `opencode run` (no TUI, though tui.publish still succeeds) the answer is the help.
      const answer =
        text === "" && !underOpencodeRun() && (await openTuiDashboard(client))
          ? "Opened the Balancer dashboard (Ctrl+B also opens it; /balancer help lists the text commands)."
          : await runtime.runCommand(text === "" ? "help" : text);
      const questionID = Array.isArray(output?.parts)
        ? await runtime.storeCommandQuestion(client, hookInput.sessionID, `/${COMMAND} ${text}`.trim())
        : undefined;
      if (questionID === undefined) {
        // Nowhere to put the answer: a toast, and stop the command before any model request.
        runtime.toast(answer, "info", 15000);
        throw new BalancerCommandHandled(text, answer);
      }
      putCommandAnswer(output.parts, answer, questionID);
    },

    tool: {
      [TOOL]: {
        description:
          "Run an opencode-balancer command and return its text output. Commands: help, list, status, " +
          "use <provider> <alias>, active <provider>, balancing on|off, priority, usage, events.",
        // A plain JSON-schema property map: opencode 1.18 accepts it without zod.
        args: {
          text: { type: "string", description: 'The command, e.g. "list" or "use openai work".' },
        },
        async execute(args) {
          return runtime.runCommand(typeof args?.text === "string" ? args.text.trim() : "");
        },
      },
    },

    // opencode 1.18 calls `dispose` when the instance goes away; the last one
    // restores fetch and stops the sidecar (EOF: it flushes and exits).
    async dispose() {
      if (released) return;
      released = true;
      stopAnswering();
      await runtime.release(client);
    },
  };
}

export default { id: PLUGIN_ID, server };
