// The process-wide runtime: one sidecar and one fetch patch per process, shared by every plugin instance.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveBinary } from "../common/binary.js";
import { redact, safeText, stripAnsi } from "../common/safe-text.js";
import { Sidecar, SidecarError, protocolRefusal } from "../common/sidecar.js";
import { envFlag, errorText, isObject, isStringRecord, numberSetting, withTimeout } from "../common/util.js";
import { PLUGIN_ID, PLUGIN_VERSION } from "../common/version.js";
import { SKILL_TEXT } from "./command.js";
import { COMMAND, RUNTIME_KEY } from "./constants.js";
import { FetchRouting } from "./fetch-routing.js";
import { VALID, validSyncAuth } from "./validate.js";

// ---------------------------------------------------------------------------
// the process-wide runtime: one sidecar and one fetch patch per process

export class Runtime extends FetchRouting {
  constructor(settings) {
    super();
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
    /** sessionID → the opening asked ahead for its next request (plugin/openings.js). */
    this.openings = new Map();
    /** Openings dropped unused, told with the next chat.headers. */
    this.unusedIDs = [];
    /** What 2xx answers tell the sidecar, not written yet (`afterHandBack`). */
    this.unwritten = new Set();
    /** providerID → the API (`{npm?, baseURL?}`) its last chat.headers named, for openings asked ahead. */
    this.apis = new Map();
    /** providerID → the shape of its last request, told to the next chat.headers. */
    this.shapes = new Map();
    /** Bumped when a pick may have changed (see `stillGood`): for all providers, and per provider. */
    this.epoch = 0;
    this.providerEpochs = new Map();
    this.sidecar = new Sidecar({
      resolve: () => resolveBinary(settings.options),
      args: settings.args,
      restartDelayMs: settings.restartDelayMs,
      maxRestartDelayMs: settings.maxRestartDelayMs,
      startGraceMs: settings.startGraceMs,
      debug: settings.debug,
      onFailure: (reason) => this.failure(reason),
    });
    this.sidecar.onNotification((method, params) => this.onNotification(method, params));
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
        const refusal = protocolRefusal(gen?.bin, r);
        if (!refusal || !gen || this.sidecar.current !== gen) return;
        this.incompatible(refusal);
      })
      .catch(() => {});
  }

  /** The sidecar does not speak this plugin's protocol: stop using it and tell the user, once. */
  incompatible({ reason, advice }) {
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

  /** A debug line; never a credential, whichever host's code wrote it (errors may quote header values). */
  note(message) {
    if (this.settings.debug) process.stderr.write(`[${PLUGIN_ID}] ${redact(message)}\n`);
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
    // What stripAnsi leaves of controls and bidi overrides shows as `\u{…}`, lines kept.
    message = safeText(stripAnsi(message), true);
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
    this.flushWrites();
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
export function resubmitAllowed(options) {
  if (typeof options.resubmit === "boolean") return options.resubmit;
  return !underOpencodeRun();
}

/** Whether this process is `opencode run` (no TUI, exits after one turn). */
export function underOpencodeRun() {
  return process.argv.slice(1, 4).includes("run");
}

export function settingsFrom(options) {
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
export function providerApi(model, provider) {
  const api = {};
  const npm = model?.api?.npm ?? provider?.info?.npm ?? provider?.npm;
  const baseURL = provider?.options?.baseURL ?? provider?.info?.options?.baseURL ?? model?.api?.url;
  if (typeof npm === "string" && npm !== "") api.npm = npm;
  if (typeof baseURL === "string" && baseURL !== "") api.baseURL = baseURL;
  return api.npm || api.baseURL ? api : null;
}

export function acquireRuntime(options, client) {
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
