// The one sidecar client: spawns `opencode-balancer serve`, JSON-RPC over stdio, timeouts, restart backoff, notifications.
import { spawn } from "node:child_process";
import { WHAT_TO_DO, isExecutableFile } from "./binary.js";
import { stripAnsi } from "./safe-text.js";
import { errorText, isObject } from "./util.js";
import { BINARY_NAME, PLUGIN_ID, PLUGIN_VERSION, PROTOCOL_VERSION } from "./version.js";

/** A sidecar that lived this long restarts with the first delay again. */
export const STABLE_AFTER_MS = 10_000;
/** Consecutive unanswered calls after which the sidecar is killed and restarted. */
export const HUNG_AFTER_TIMEOUTS = 2;
/** A stdout line longer than this (no newline yet) is a protocol violation. */
export const MAX_LINE_CHARS = 16 * 1024 * 1024;
/**
 * Why the sidecar `bin` that answered `initialize` with `answer` cannot be used by this plugin, and
 * what to do (`{reason, advice}`); null when it speaks this plugin's protocol. The server and the
 * TUI plugins say the same.
 */
export function protocolRefusal(bin, answer) {
  if (answer?.protocolVersion === PROTOCOL_VERSION) return null;
  const version = isObject(answer?.server) && typeof answer.server.version === "string" ? ` ${answer.server.version}` : "";
  const spoken = typeof answer?.protocolVersion === "number" ? `protocol ${answer.protocolVersion}` : "no protocol version";
  const newer = typeof answer?.protocolVersion === "number" && answer.protocolVersion > PROTOCOL_VERSION;
  const advice = newer
    ? `upgrade the plugin to match the binary (the npm package opencode-balancer, or \`${BINARY_NAME} install\` again)`
    : `upgrade the binary to ${PLUGIN_VERSION}: ${WHAT_TO_DO}`;
  return { reason: `${bin}${version} speaks ${spoken}, this plugin ${PLUGIN_VERSION} needs protocol ${PROTOCOL_VERSION}`, advice };
}

export class SidecarUnavailable extends Error {
  constructor(message) {
    super(message);
    this.name = "SidecarUnavailable";
  }
}

export class SidecarTimeout extends Error {
  constructor(message) {
    super(message);
    this.name = "SidecarTimeout";
  }
}

/** A JSON-RPC error answer: the sidecar is alive and said no. */
export class SidecarError extends Error {
  constructor(error) {
    super(typeof error?.message === "string" ? error.message : "sidecar error");
    this.name = "SidecarError";
    this.code = error?.code;
    this.data = error?.data;
  }
}
// ---------------------------------------------------------------------------
// the sidecar process and its JSON-RPC connection

export class Sidecar {
  /**
   * @param options {binary, args, serveArgs, env, log, resolve, restartDelayMs, maxRestartDelayMs,
   *   startGraceMs, debug, onFailure(reason), onStart()}: `binary` is a path or `{path, source}`
   *   (or `resolve()` returns one at each start); `args` go before `serve`, `serveArgs` after it;
   *   `log(message)` gets the debug notes (default: stderr when `debug`).
   */
  constructor(options = {}) {
    const binary = typeof options.binary === "string" ? { path: options.binary, source: "the binary option" } : options.binary;
    this.settings = {
      resolve: options.resolve ?? (() => binary ?? { path: null, source: null }),
      args: options.args ?? [],
      serveArgs: options.serveArgs ?? [],
      env: options.env ?? process.env,
      restartDelayMs: options.restartDelayMs ?? 1000,
      maxRestartDelayMs: options.maxRestartDelayMs ?? 30_000,
      startGraceMs: options.startGraceMs ?? 5000,
      debug: options.debug === true,
      log: options.log ?? null,
    };
    this.listeners = new Set();
    this.events = {
      notification: (method, params) => {
        for (const listener of [...this.listeners]) {
          try {
            listener(method, params);
          } catch {
            // a listener's error must not stop the reader
          }
        }
      },
      failure: (reason) => options.onFailure?.(reason),
    };
    this.onStart = options.onStart ?? null;
    this.current = null; // {child, startedAt, buffer, dead, ready, bin}
    this.pending = new Map(); // id → {resolve, reject, timer, gen, method}
    this.nextId = 1;
    this.delay = this.settings.restartDelayMs;
    this.nextStartAt = 0;
    this.restartTimer = null;
    this.closed = false;
    this.timeouts = 0;
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
      child = spawn(bin.path, [...this.settings.args, "serve", ...this.settings.serveArgs], {
        stdio: ["pipe", "pipe", "pipe"],
        env: this.settings.env,
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
    if (this.settings.log) this.settings.log(message);
    else if (this.settings.debug) process.stderr.write(`[${PLUGIN_ID}] ${message}\n`);
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

  /** Runs `f`; what it writes to the sidecar goes out in one write (one pipe write, one wake). */
  corked(f) {
    const stdin = this.current?.child?.stdin;
    if (!stdin || stdin.destroyed || stdin.writableEnded) return f();
    stdin.cork();
    try {
      return f();
    } finally {
      stdin.uncork();
    }
  }

  /** A JSON-RPC notification (no answer); false when it could not be written. */
  notify(method, params) {
    const gen = this.current;
    if (this.closed || !gen) return false;
    return this.write(gen, { jsonrpc: "2.0", method, params });
  }

  /** Calls `listener(method, params)` for each notification; returns the unsubscribe. */
  onNotification(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops the sidecar for good (EOF, then a kill after `graceMs`). */
  close(graceMs = 2000) {
    return this.shutdown(graceMs);
  }

  /** A JSON-RPC call; `options` is `{timeoutMs}` (or the timeout itself). Rejects with SidecarUnavailable / SidecarTimeout / SidecarError. */
  call(method, params, options = {}) {
    const timeoutMs = typeof options === "number" ? options : (options?.timeoutMs ?? 15_000);
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
