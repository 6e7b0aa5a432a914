// The TUI plugin's own sidecar: `opencode-balancer serve --no-background` (no login watcher, no
// usage polling: the server plugin's sidecar does those), JSON-RPC over its stdin/stdout. It
// pushes `event` and `store.changed` notifications; a dead sidecar is restarted (1 s doubling to 30 s).
import { spawn } from "node:child_process";
import { accessSync, constants, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const NAME = "opencode-balancer";
/** The `protocolVersion` this plugin speaks (docs/protocol.md). */
export const PROTOCOL_VERSION = 1;
const VERSION = "0.3.0";

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isMusl() {
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

/** The platform package names for this machine, the most likely first (Linux: both libcs). */
export function platformPackages(platform = process.platform, arch = process.arch, musl = platform === "linux" && isMusl()) {
  const base = `${NAME}-${platform}-${arch}`;
  if (platform !== "linux") return [base];
  return musl ? [`${base}-musl`, base] : [base, `${base}-musl`];
}

/** The binary of the platform package `opencode-balancer-<os>-<arch>[-musl]` beside `here`, or null. */
export function packageBinary(here = import.meta.url, platform = process.platform, arch = process.arch) {
  const names = platformPackages(platform, arch);
  let require;
  try {
    require = createRequire(here);
  } catch {
    return null;
  }
  for (const name of names) {
    try {
      const path = join(dirname(require.resolve(`${name}/package.json`)), "bin", platform === "win32" ? `${NAME}.exe` : NAME);
      if (executable(path)) return path;
    } catch {
      // not installed
    }
  }
  return null;
}

/**
 * The binary: the `binary` option, the platform package, OPENCODE_BALANCER_BIN, the installed
 * path, PATH, a checkout's build (the same order as the server plugin; plugin/index.js says why).
 */
export function resolveBinary(options = {}, installed = null, env = process.env, here = import.meta.url) {
  if (typeof options.binary === "string" && options.binary) return { path: options.binary, source: "the binary option" };
  const fromPackage = packageBinary(here);
  if (fromPackage) return { path: fromPackage, source: "the platform package" };
  if (env.OPENCODE_BALANCER_BIN) return { path: env.OPENCODE_BALANCER_BIN, source: "OPENCODE_BALANCER_BIN" };
  if (installed && executable(installed)) return { path: installed, source: "install" };
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir && executable(join(dir, NAME))) return { path: join(dir, NAME), source: "PATH" };
  }
  try {
    const checkout = join(dirname(fileURLToPath(here)), "..", "target", "release", NAME);
    if (executable(checkout)) return { path: checkout, source: "the checkout" };
  } catch {
    // not a file: URL
  }
  return { path: null, source: "nowhere" };
}

export class Client {
  /**
   * @param opts {binary:{path,source}, args:[S], onNotification(method, params), onState({state, reason})}
   */
  constructor(opts) {
    this.opts = opts;
    this.child = null;
    this.buffer = "";
    this.pending = new Map();
    this.nextId = 1;
    this.delay = 1000;
    this.timer = null;
    this.closed = false;
    this.conn = { state: "starting", reason: null };
    /** Why the binary cannot be used (wrong protocol): it is not started again. */
    this.refused = null;
  }

  setState(state, reason = null) {
    this.conn = { state, reason };
    try {
      this.opts.onState?.(this.conn);
    } catch {
      // the view's problem, not the connection's
    }
  }

  start() {
    if (this.closed || this.child || this.refused) return;
    const bin = this.opts.binary;
    if (!bin?.path) {
      return this.down(`the ${NAME} binary was not found (add "${NAME}" to opencode's plugins, npm i ${NAME}, or set OPENCODE_BALANCER_BIN)`);
    }
    if (!executable(bin.path)) return this.down(`the ${NAME} binary from ${bin.source} is missing or not executable: ${bin.path}`);
    let child;
    try {
      child = spawn(bin.path, [...(this.opts.args ?? []), "serve", "--no-background"], { stdio: ["pipe", "pipe", "ignore"] });
    } catch (e) {
      return this.down(`could not start ${bin.path}: ${e?.message ?? e}`);
    }
    this.child = child;
    this.buffer = "";
    this.setState("starting");
    const gone = (why) => {
      if (this.child !== child) return;
      this.child = null;
      this.down(why);
    };
    child.on("error", (e) => gone(`could not run ${bin.path}: ${e?.message ?? e}`));
    child.on("exit", (code, signal) => gone(signal ? `the sidecar was stopped by ${signal}` : `the sidecar exited with code ${code}`));
    child.stdin.on("error", () => {});
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => this.onData(chunk));
    child.unref();
    child.stdin.unref?.();
    child.stdout.unref?.();
    this.call("initialize", { client: { name: `${NAME}-tui`, version: VERSION } }, 10_000).then(
      (r) => {
        if (r?.protocolVersion !== PROTOCOL_VERSION) return this.refuse(bin.path, r);
        this.delay = 1000;
        this.setState("ready");
      },
      () => {},
    );
  }

  /** The sidecar speaks another protocol: stop it for good and say what to do. */
  refuse(path, answer) {
    const spoken = typeof answer?.protocolVersion === "number" ? `protocol ${answer.protocolVersion}` : "no protocol version";
    const newer = typeof answer?.protocolVersion === "number" && answer.protocolVersion > PROTOCOL_VERSION;
    const reason =
      `${path} speaks ${spoken}, this plugin ${VERSION} needs protocol ${PROTOCOL_VERSION}: ` +
      (newer ? "upgrade the plugin" : `upgrade the binary to ${VERSION} (npm i opencode-balancer, or set OPENCODE_BALANCER_BIN)`);
    this.refused = reason;
    const child = this.child;
    this.child = null;
    try {
      child?.stdin.end();
    } catch {
      // gone
    }
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error(reason));
    }
    this.pending.clear();
    this.setState("down", reason);
  }

  down(reason) {
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error(reason));
    }
    this.pending.clear();
    this.setState("down", reason);
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.start();
    }, this.delay);
    this.timer.unref?.();
    this.delay = Math.min(this.delay * 2, 30_000);
  }

  onData(chunk) {
    this.buffer += chunk;
    let nl;
    while ((nl = this.buffer.indexOf("\n")) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (!line) continue;
      let m;
      try {
        m = JSON.parse(line);
      } catch {
        continue;
      }
      if (typeof m?.method === "string" && m.id === undefined) {
        try {
          this.opts.onNotification?.(m.method, m.params);
        } catch {
          // a view error must not stop the reader
        }
        continue;
      }
      const p = this.pending.get(m?.id);
      if (!p) continue;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.error) p.reject(Object.assign(new Error(m.error.message ?? "sidecar error"), { code: m.error.code }));
      else p.resolve(m.result);
    }
  }

  /** One call; rejects with the sidecar's error message, or why there is no sidecar. */
  call(method, params = {}, timeoutMs = 15_000) {
    if (!this.child) {
      if (!this.closed && !this.timer) this.start();
      if (!this.child) return Promise.reject(new Error(this.refused ?? this.conn.reason ?? "the sidecar is not running"));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.delete(id)) reject(new Error(`the sidecar did not answer ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref?.();
      this.pending.set(id, { resolve, reject, timer });
      try {
        this.child.stdin.write(JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n");
      } catch (e) {
        this.pending.delete(id);
        clearTimeout(timer);
        reject(new Error(`could not write to the sidecar: ${e?.message ?? e}`));
      }
    });
  }

  /** Closes stdin (the sidecar flushes and exits); kills it if it is still there after 2 s. */
  stop() {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const child = this.child;
    this.child = null;
    if (!child) return;
    try {
      child.stdin.end();
    } catch {
      // gone
    }
    const kill = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // gone
      }
    }, 2000);
    kill.unref?.();
    child.once("exit", () => clearTimeout(kill));
  }
}
