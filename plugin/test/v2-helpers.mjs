// Shared pieces of the V2 adapter's tests: a fake opencode 2 plugin context shaped as
// /work/shared/OPENCODE-V2.md says (session.hook registry, integration.connection, credential,
// event.subscribe), V2's HTTP pipeline around the hooks, and the adapter's deps on the fake sidecar.

import { Sidecar } from "../../common/sidecar.js";
import { VALID } from "../validate.js";

/** The adapter's deps on a sidecar started from `binary` (the fake); `logs` collects every log line, `toasts` every toast. */
export async function sidecarDeps(binary, { timeoutMs = 1500 } = {}) {
  const logs = [];
  const toasts = [];
  const sidecar = new Sidecar({ binary, restartDelayMs: 50, maxRestartDelayMs: 200, startGraceMs: 5000, onFailure: (reason) => logs.push(`failure: ${reason}`) });
  const deps = {
    async call(method, params, ms = timeoutMs) {
      const r = await sidecar.call(method, params, ms);
      if (VALID[method] && !VALID[method](r)) throw new Error(`unexpected answer to ${method}`);
      return r;
    },
    notify: (method, params) => sidecar.notify(method, params),
    log: (text) => logs.push(text),
    toast: (message, variant) => toasts.push({ message, variant }),
    timeoutMs,
  };
  return { deps, logs, toasts, close: () => sidecar.shutdown(500) };
}

/**
 * A fake V2 plugin context. `secrets`: credentialID → key; `active`: integrationID → credentialID.
 * `trigger(name, arg)` runs the registered hooks in order as V2 does.
 */
export function fakeV2Context({ secrets = {}, active = {}, resolveThrows = false, providers = [] } = {}) {
  const hooks = new Map();
  const subscribers = [];
  const calls = { resolves: [], switchModel: [], activate: [], registered: [] };
  const ctx = {
    session: {
      hook: async (name, cb, opts) => {
        calls.registered.push(name);
        if (!hooks.has(name)) hooks.set(name, []);
        hooks.get(name).push({ cb, opts });
        return () => {};
      },
      // What 2.1.2's session.get answered (seen running it): no model.
      get: async ({ sessionID }) => ({ id: sessionID, projectID: "global", cost: 0, tokens: {}, time: { created: 0 }, location: {} }),
      switchModel: async (x) => {
        calls.switchModel.push(x);
      },
    },
    // `provider.list()` as 2.1.2 answers it.
    provider: {
      list: async () => ({ location: { directory: "/tmp" }, data: providers }),
    },
    integration: {
      list: async () => ({ data: [] }),
      connection: {
        active: async (integrationID) =>
          active[integrationID] ? { type: "credential", id: active[integrationID], label: active[integrationID], method: "key" } : undefined,
        resolve: async (c) => {
          if (resolveThrows) throw new Error("resolve failed (test)");
          calls.resolves.push(c.id);
          return secrets[c.id] ? { type: "key", key: secrets[c.id] } : undefined;
        },
      },
    },
    credential: {
      activate: async ({ credentialID }) => {
        calls.activate.push(credentialID);
      },
    },
    event: {
      subscribe: (cb) => {
        subscribers.push(cb);
        return () => {};
      },
    },
  };
  const trigger = async (name, arg) => {
    for (const { cb } of hooks.get(name) ?? []) await cb(arg);
    return arg;
  };
  const emit = (event) => subscribers.forEach((cb) => cb(event));
  return { ctx, calls, hooks, trigger, emit };
}

/**
 * One provider request through V2's pipeline (bundle of @opencode/cli 2.1.2): `http.request` on a
 * Request carrying the active key, the request sent with its body read from a clone, then
 * `http.response` on a Response of what came. Returns the hook argument (its `response` is what V2 uses).
 */
export async function v2Send(fake, { url, key, body = '{"model":"m1","messages":[]}', sessionID = "ses_v2", model = { providerID: "mock", id: "m1" } }) {
  const base = { sessionID, agent: "build", model, kind: "primary" };
  const request = new Request(url, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body,
  });
  const a = await fake.trigger("http.request", { ...base, request });
  const sent = await fetch(a.request.url, {
    method: a.request.method,
    headers: a.request.headers,
    body: a.request.body ? await a.request.clone().arrayBuffer() : undefined,
  });
  const r = { ...base, request: a.request, response: new Response(sent.body, { status: sent.status, headers: sent.headers }) };
  return fake.trigger("http.response", r);
}
