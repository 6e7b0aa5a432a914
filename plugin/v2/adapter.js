// The V2 server adapter's hooks: registers the hot-path, retry, balancing and host-switch hooks, each unable to throw.
//
// Only under opencode 2 (`ctx.session.hook` is a function; V1 1.18 calls `setup` too, with a
// context that has none). Once per process: plugin/index.js's `setup` guards that (V2 may load
// the plugin twice). A hook callback that throws fails the user's turn in V2, so every one
// catches, logs (redacted by Runtime.note) and passes the request or response through as it stands.

import { errorText } from "../../common/util.js";
import { HotPath } from "./hot-path.js";
import { decideRetry } from "./retry.js";
import { chooseModel, watchHostSwitches } from "./session.js";

/** Whether `ctx` is opencode 2's plugin context. */
export function isV2Context(ctx) {
  return typeof ctx?.session?.hook === "function";
}

/**
 * Registers the V2 hooks on `ctx`; `deps` as HotPath takes it (plugin/v2/hot-path.js). Resolves to
 * the HotPath, or null without a V2 context.
 */
export async function startV2(ctx, deps) {
  if (!isV2Context(ctx)) return null;
  const log = (text) => {
    try {
      deps.log?.(text); // redacted where it is written (Runtime.note)
    } catch {
      // logging never breaks a hook
    }
  };
  const safeDeps = { ...deps, log };
  const hot = new HotPath(ctx, safeDeps);
  const guarded = (name, fn) => async (a) => {
    try {
      await fn(a);
    } catch (e) {
      log(`${name}: ${errorText(e)} (passed through unchanged)`);
    }
  };
  const hooks = [
    ["model.request", (a) => hot.onModelRequest(a)],
    ["http.request", (a) => hot.onRequest(a)],
    ["http.response", (a) => hot.onResponse(a)],
    ["retry", (a) => decideRetry(a, safeDeps)],
    ["prompt", (a) => chooseModel(a, ctx, safeDeps, (id) => hot.modelOf(id))],
  ];
  for (const [name, fn] of hooks) {
    try {
      await ctx.session.hook(name, guarded(name, fn));
    } catch (e) {
      log(`could not register ${name} (${errorText(e)})`);
    }
  }
  try {
    watchHostSwitches(ctx, safeDeps);
  } catch (e) {
    log(`could not watch V2's events (${errorText(e)})`);
  }
  return hot;
}
