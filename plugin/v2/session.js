// V2 session rules: balancing chooses the model per message (`prompt` hook), and V2's own account switches are noticed, said and deferred to.
//
// Balancing on V1 answers `chat.message` with the model for the message; on V2 the `prompt` hook
// runs before the turn, so the same answer goes to `session.switchModel` (checked with 2.1.2: the
// turn then runs on that model). V2 may switch a provider's active credential by itself (`credential.switched`,
// an auto-switch upstream, or the user with `opencode auth switch`): the balancer mirrors V2's
// active flag from its database, so it follows; the plugin says it happened and changes nothing.

import { isObject } from "../../common/util.js";

/**
 * `prompt`: asks the sidecar's `chat.message` for this message's model (with the session's model as
 * its latest request had it, `modelOf`); switches the session when the answer differs. A session
 * whose model is not known yet (V2's session.get does not say it) is asked about only with
 * balancing on: with it off the sidecar answers a model exactly when the host sends none, which
 * would override the user's choice.
 */
export async function chooseModel(a, ctx, deps, modelOf) {
  const sessionID = a?.sessionID;
  if (typeof sessionID !== "string") return;
  const model = modelOf(sessionID);
  const params = { sessionID };
  if (model) params.model = { providerID: model.providerID, modelID: model.id };
  else if ((await deps.call("balancing.get", {}))?.enabled !== true) return;
  const result = await deps.call("chat.message", params);
  const chosen = result?.model;
  if (!isObject(chosen) || typeof chosen.providerID !== "string" || typeof chosen.modelID !== "string") return;
  if (model && model.providerID === chosen.providerID && model.id === chosen.modelID) return;
  if (typeof ctx?.session?.switchModel !== "function") return;
  await ctx.session.switchModel({ sessionID, model: { providerID: chosen.providerID, id: chosen.modelID } });
  deps.log(`balancing: this message goes to ${chosen.providerID}/${chosen.modelID}`);
}

/** A V2 event about its active credential: `{integrationID, credentialID}` of `credential.switched`, else null. */
export function hostSwitch(event) {
  if (!isObject(event) || event.type !== "credential.switched") return null;
  const data = isObject(event.data) ? event.data : isObject(event.properties) ? event.properties : {};
  if (typeof data.integrationID !== "string") return null;
  return { integrationID: data.integrationID, credentialID: typeof data.credentialID === "string" ? data.credentialID : null };
}

/**
 * Watches V2's events for account switches it made by itself (every `credential.switched`: the
 * server plugin itself never activates a credential, it sets one per request). Says so once per
 * switch and defers: nothing is switched back. Returns what stops watching.
 */
export function watchHostSwitches(ctx, deps) {
  if (typeof ctx?.event?.subscribe !== "function") return () => {};
  const stop = ctx.event.subscribe((event) => {
    try {
      const s = hostSwitch(event);
      if (!s) return;
      const message =
        `opencode switched ${s.integrationID} to credential ${s.credentialID ?? "(none)"} by itself; ` +
        "opencode-balancer follows it (it does not switch back)";
      deps.log(message);
      deps.toast?.(message, "info");
    } catch {
      // an event never breaks anything
    }
  });
  return typeof stop === "function" ? stop : () => {};
}
