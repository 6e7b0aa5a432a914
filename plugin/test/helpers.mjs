// Shared pieces of the plugin's tests: a fake opencode client, the fake
// sidecar's configuration, a loopback HTTP server, console capture.

import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const MARKER = "x-opencode-balancer-request";
export const PLUGIN_PATH = fileURLToPath(new URL("../index.js", import.meta.url));
/** The file holding the line `opencode-balancer install` replaces (INSTALLED_BINARY). */
export const BINARY_JS_PATH = fileURLToPath(new URL("../../common/binary.js", import.meta.url));
const REPO = fileURLToPath(new URL("../..", import.meta.url));

/**
 * A copy of the plugin's package folder (common/ and plugin/, no tests) under `root`, as install
 * and npm lay it out; returns the path of its plugin/index.js.
 */
export function copyPackage(root) {
  const keep = (src) => !/[/\\]test([/\\]|$)/.test(src.slice(REPO.length));
  for (const dir of ["common", "plugin"]) cpSync(join(REPO, dir), join(root, dir), { recursive: true, filter: keep });
  return join(root, "plugin", "index.js");
}
export const FAKE_SIDECAR = fileURLToPath(new URL("./fake-sidecar.mjs", import.meta.url));

/**
 * Settings for tests: restarts and warnings happen within a test, while call
 * timeouts stay generous (a loaded CI machine is slow); tests about timeouts
 * set their own.
 */
export const FAST = {
  timeoutMs: 1500,
  commandTimeoutMs: 5000,
  restartDelayMs: 50,
  startGraceMs: 5000,
  maxRestartDelayMs: 200,
  warnIntervalMs: 0,
};

export function tempDir(prefix = "ocb-plugin-test-") {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir) {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // best effort
  }
}

/**
 * Writes the fake sidecar's configuration and points FAKE_SIDECAR_CONFIG at
 * it (the plugin passes its environment to the sidecar). Returns the path of
 * the fake binary and of its log.
 */
export function fakeSidecar(dir, config = {}) {
  chmodSync(FAKE_SIDECAR, 0o755);
  const log = join(dir, "fake.log");
  const file = join(dir, "fake-config.json");
  writeFileSync(file, JSON.stringify({ log, ...config }));
  process.env.FAKE_SIDECAR_CONFIG = file;
  return { binary: FAKE_SIDECAR, log };
}

/** Every JSON line the fake logged (received messages and starts). */
export function fakeLog(log) {
  if (!existsSync(log)) return [];
  return readFileSync(log, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

export function fakeCalls(log, method) {
  return fakeLog(log).filter((m) => m.method === method);
}

export function fakeStarts(log) {
  return fakeLog(log).filter((m) => m.started !== undefined);
}

/** A stand-in for opencode's SDK client that records what the plugin does. */
export function fakeClient({ fail = false, authDelayMs = 0 } = {}) {
  const calls = { toasts: [], auth: [], prompts: [], published: [], aborts: [], promptAsyncs: [] };
  const maybeFail = (what) => {
    if (fail === "throw") throw new Error(`${what} failed (test)`);
    if (fail === "reject") return Promise.reject(new Error(`${what} failed (test)`));
    if (fail === "error") return Promise.resolve({ error: { name: "UnknownError" } });
    return null;
  };
  const client = {
    tui: {
      showToast(arg) {
        calls.toasts.push(arg);
        return maybeFail("showToast") ?? Promise.resolve({ data: true });
      },
      publish(arg) {
        calls.published.push(arg);
        return maybeFail("publish") ?? Promise.resolve({ data: true });
      },
    },
    auth: {
      async set(arg) {
        const failed = maybeFail("auth.set");
        if (authDelayMs) await new Promise((r) => setTimeout(r, authDelayMs));
        calls.auth.push(arg);
        return failed ?? { data: true };
      },
    },
    session: {
      prompt(arg) {
        calls.prompts.push(arg);
        return maybeFail("session.prompt") ?? Promise.resolve({ data: { info: { id: `msg_q${calls.prompts.length}`, role: "user" }, parts: [] } });
      },
      abort(arg) {
        calls.aborts.push(arg);
        return Promise.resolve({ data: true });
      },
      promptAsync(arg) {
        calls.promptAsyncs.push({ ...arg, abortedBefore: calls.aborts.length });
        return Promise.resolve({ data: undefined });
      },
    },
  };
  return { client, calls };
}

export function warnings(calls) {
  return calls.toasts.filter((t) => t.body?.variant === "warning");
}

/** Replaces console.error until restore() and records its lines. */
export function captureConsoleError() {
  const original = console.error;
  const lines = [];
  console.error = (...args) => lines.push(args.map(String).join(" "));
  return {
    lines,
    restore() {
      console.error = original;
    },
  };
}

/**
 * A loopback HTTP server (127.0.0.1 only). `respond(req, body, index)`
 * returns {status, headers, body}; every request is recorded with its headers
 * and raw body bytes.
 */
export async function loopback(respond) {
  const requests = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const entry = { method: req.method, url: req.url, headers: req.headers, body };
      requests.push(entry);
      const r = respond(entry, requests.length - 1) ?? { status: 200, body: "ok" };
      res.writeHead(r.status ?? 200, r.headers ?? { "content-type": "text/plain" });
      res.end(r.body ?? "");
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/** 429 for one key, 200 for another: the failover fixture. */
export function keyedResponder(keys = { "key-a": 429 }) {
  return (req) => {
    const auth = req.headers["authorization"] ?? req.headers["x-api-key"] ?? "";
    const key = String(auth).replace(/^Bearer\s+/i, "");
    const status = keys[key] ?? 200;
    if (status === 429) {
      return {
        status: 429,
        headers: {
          "content-type": "application/json",
          "retry-after": "7",
          "x-ratelimit-remaining-requests": "0",
          "anthropic-ratelimit-requests-remaining": "0",
          "x-unrelated": "1",
        },
        body: JSON.stringify({ error: { message: "rate limited for " + key, type: "rate_limit" } }),
      };
    }
    return { status, headers: { "content-type": "text/plain" }, body: `ok ${key}` };
  };
}

export async function waitFor(predicate, timeoutMs = 5000, what = "condition") {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The chat.headers input opencode 1.18 passes (model is a Provider.Model). */
export function headersInput(providerID = "mock", sessionID = "ses_test", modelID = "m1") {
  return {
    sessionID,
    agent: "build",
    model: { id: modelID, providerID, name: modelID, api: { id: modelID, npm: "@ai-sdk/openai-compatible" } },
    provider: { id: providerID, name: providerID },
    message: { id: "msg_1", role: "user" },
  };
}

/**
 * The real sidecar binary for the tests that need it: OPENCODE_BALANCER_BIN,
 * else the checkout's release build. Throws (the test fails) when it is missing.
 */
export function realBinary() {
  const path =
    process.env.OPENCODE_BALANCER_BIN || fileURLToPath(new URL("../../target/release/opencode-balancer", import.meta.url));
  if (!existsSync(path)) {
    throw new Error(
      `the real sidecar binary is missing: ${path}\n` +
        "  build it with `cargo build --release` (or point OPENCODE_BALANCER_BIN at one); " +
        "these tests do not skip without it",
    );
  }
  return path;
}

/**
 * Saves API-key accounts into a store through the real binary: `accounts` is
 * `{providerID: [[alias, key], …]}`; the first alias of each provider is made its active one.
 */
export async function seedAccounts(binary, store, accounts) {
  const rpc = rpcSession(binary, store);
  try {
    for (const [providerID, list] of Object.entries(accounts)) {
      for (const [alias, key] of list) await rpc.call("accounts.save", { providerID, alias, auth: { type: "api", key } });
      await rpc.call("accounts.activate", { providerID, alias: list[0][0] });
    }
  } finally {
    await rpc.close();
  }
}

/** A JSON-RPC session with `<bin> --store STORE serve`, for setting up and checking the store. */
export function rpcSession(binary, store, { timeoutMs = 10_000 } = {}) {
  const child = spawn(binary, ["--store", store, "serve"], { stdio: ["pipe", "pipe", "pipe"] });
  const pending = new Map();
  let nextId = 1;
  let buffer = "";
  let stderr = "";
  let exited = null;
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (c) => {
    stderr += c;
  });
  child.stdout.on("data", (chunk) => {
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (!line.trim()) continue;
      let msg;
      try {
        msg = JSON.parse(line);
      } catch {
        for (const p of pending.values()) p.reject(new Error(`the sidecar wrote a non-JSON line: ${line.slice(0, 200)}`));
        pending.clear();
        continue;
      }
      const p = pending.get(msg.id);
      if (!p) continue;
      pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.error) p.reject(Object.assign(new Error(`${msg.error.code}: ${msg.error.message}`), { code: msg.error.code }));
      else p.resolve(msg.result);
    }
  });
  const died = new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      exited = { code, signal };
      for (const p of pending.values()) {
        p.reject(new Error(`the sidecar exited (${signal ?? code}) before answering; stderr:\n${stderr.slice(-2000)}`));
      }
      pending.clear();
      resolve(exited);
    });
  });
  child.on("error", () => {});
  return {
    call(method, params) {
      if (exited) return Promise.reject(new Error(`the sidecar has exited (${exited.signal ?? exited.code}); stderr:\n${stderr.slice(-2000)}`));
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`no answer to ${method} within ${timeoutMs} ms; stderr:\n${stderr.slice(-2000)}`));
        }, timeoutMs);
        pending.set(id, { resolve, reject, timer });
        child.stdin.write(JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n");
      });
    },
    async close() {
      if (!exited) child.stdin.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
      const result = await died;
      clearTimeout(timer);
      return result;
    },
    get stderr() {
      return stderr;
    },
  };
}

/** An executable that runs the fake sidecar under a name of its own. */
export function wrapper(dir, name, id) {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\nFAKE_SIDECAR_ID=${id} exec "${process.execPath}" "${FAKE_SIDECAR}" "$@"\n`);
  chmodSync(path, 0o755);
  return path;
}

/**
 * Environment and fake sidecar for one discovery test: PATH holds only a fake named from-path
 * (then /usr/bin:/bin), OPENCODE_BALANCER_BIN is unset; both are put back afterwards.
 */
export function scenario(t, config = {}) {
  const dir = tempDir();
  const saved = { PATH: process.env.PATH, BIN: process.env.OPENCODE_BALANCER_BIN };
  const fake = fakeSidecar(dir, config);
  const onPath = join(dir, "path-bin");
  wrapper(onPath, "opencode-balancer", "from-path");
  process.env.PATH = `${onPath}:/usr/bin:/bin`;
  delete process.env.OPENCODE_BALANCER_BIN;
  t.after(() => {
    process.env.PATH = saved.PATH;
    if (saved.BIN === undefined) delete process.env.OPENCODE_BALANCER_BIN;
    else process.env.OPENCODE_BALANCER_BIN = saved.BIN;
    delete process.env.FAKE_SIDECAR_CONFIG;
    removeDir(dir);
  });
  return { dir, log: fake.log };
}

/**
 * A temporary store for tests of the real sidecar: the plugin's sidecar inherits the
 * environment, so every store lookup points at a fresh folder; `restore()` puts the
 * environment back and removes the folder.
 */
export function tempStoreEnv(prefix) {
  const dir = tempDir(prefix);
  const store = join(dir, "balancer.sqlite");
  const values = {
    OPENCODE_CONFIG_DIR: dir,
    OPENCODE_BALANCER_STORE: store,
    XDG_CONFIG_HOME: join(dir, "config"),
    XDG_DATA_HOME: join(dir, "data"),
  };
  const saved = {};
  for (const [key, value] of Object.entries(values)) {
    saved[key] = process.env[key];
    process.env[key] = value;
  }
  return {
    dir,
    store,
    restore() {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
      removeDir(dir);
    },
  };
}
