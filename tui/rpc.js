// The TUI plugin's own sidecar: `opencode-balancer serve --no-background` (no login watcher, no
// usage polling: the server plugin's sidecar does those), JSON-RPC over its stdin/stdout. It
// pushes `event` and `store.changed` notifications; a dead sidecar is restarted (1 s doubling to
// 30 s). Binary discovery and the client itself are common/binary.js and common/sidecar.js.
import * as binary from "../common/binary.js";
import { Sidecar, protocolRefusal } from "../common/sidecar.js";
import { BINARY_NAME, PLUGIN_VERSION, PROTOCOL_VERSION } from "../common/version.js";

export { PROTOCOL_VERSION };
export const platformPackages = binary.platformPackages;
export const packageBinary = binary.packageBinary;

/**
 * The binary: the `binary` option, the platform package, OPENCODE_BALANCER_BIN, the installed
 * path, PATH, a checkout's build (common/binary.js). `installed` undefined: the path install wrote.
 */
export function resolveBinary(options = {}, installed = undefined, env = process.env, here = import.meta.url) {
  return binary.resolveBinary(options, { env, here, installed });
}

export class Client {
  /**
   * @param opts {binary:{path,source}, args:[S], onNotification(method, params), onState({state, reason})}
   */
  constructor(opts) {
    this.opts = opts;
    this.closed = false;
    this.conn = { state: "starting", reason: null };
    /** Why the binary cannot be used (wrong protocol): it is not started again. */
    this.refused = null;
    this.sidecar = new Sidecar({
      binary: opts.binary ?? { path: null, source: null },
      args: opts.args ?? [],
      serveArgs: ["--no-background"],
      onFailure: (reason) => this.setState("down", reason),
      onStart: () => this.hello(),
    });
    this.sidecar.onNotification((method, params) => this.opts.onNotification?.(method, params));
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
    if (this.closed || this.refused || this.sidecar.running) return;
    this.sidecar.start();
  }

  /** The handshake each new sidecar gets: protocol version checked, state "ready". */
  hello() {
    const gen = this.sidecar.current;
    this.setState("starting");
    this.sidecar.call("initialize", { client: { name: `${BINARY_NAME}-tui`, version: PLUGIN_VERSION } }, { timeoutMs: 10_000 }).then(
      (r) => {
        if (this.sidecar.current !== gen) return;
        const refusal = protocolRefusal(gen?.bin, r);
        if (refusal) return this.refuse(refusal);
        this.setState("ready");
      },
      () => {},
    );
  }

  /** The sidecar speaks another protocol: stop it for good and say what to do. */
  refuse({ reason: why, advice }) {
    const reason = `${why}: ${advice}`;
    this.refused = reason;
    this.sidecar.refuse(reason);
    this.setState("down", reason);
  }

  /** One call; rejects with the sidecar's error message, or why there is no sidecar. */
  call(method, params = {}, timeoutMs = 15_000) {
    // Sidecar.call starts a sidecar when there is none, after the restart backoff.
    return this.sidecar.call(method, params, { timeoutMs });
  }

  /** Closes stdin (the sidecar flushes and exits); kills it if it is still there after 2 s. */
  stop() {
    this.closed = true;
    this.sidecar.close().catch(() => {});
  }
}
