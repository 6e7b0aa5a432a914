// The opencode 2 server adapter (issue 32): V2's session hooks on the process's one sidecar (plugin/v2/README.md).
import { envFlag, isObject } from "../../common/util.js";
import { Runtime, acquireRuntime, settingsFrom } from "../runtime.js";
import { startV2 } from "./adapter.js";

/**
 * Registers the V2 hooks (plugin/index.js's `setup` calls it once per process). `deps` with a
 * `call` is used as it is (tests); otherwise the hooks talk to the sidecar through V1's Runtime.
 */
export async function setupV2(ctx, deps = {}) {
  const options = isObject(ctx?.options) ? ctx.options : {};
  if (options.disabled === true || envFlag("OPENCODE_BALANCER_DISABLE")) return;
  await startV2(ctx, typeof deps.call === "function" ? deps : runtimeDeps(options));
}

/**
 * The hooks' sidecar: the process's one Runtime (checked answers, restarts, one warning per outage),
 * acquired at the first hook that needs it, so a V2 process that sends no provider request (the
 * CLI beside its server) starts no sidecar. Under V2 its fetch patch sees no marked request.
 */
export function runtimeDeps(options) {
  let runtime = null;
  const settings = settingsFrom(options);
  const get = () => (runtime && !runtime.closed ? runtime : (runtime = acquireRuntime(options, null)));
  return {
    call: (method, params, timeoutMs) => get().call(method, params, timeoutMs),
    notify: (method, params) => get().sidecar.notify(method, params),
    // A line to log starts no sidecar: the Runtime's note (redacted) with these settings.
    log: (text) => Runtime.prototype.note.call({ settings }, text),
    timeoutMs: settings.timeoutMs,
  };
}
