// The plugin against the real sidecar binary (OPENCODE_BALANCER_BIN, else
// target/release/opencode-balancer) with a temporary store and a loopback
// provider. These tests FAIL when the binary is missing: build it first.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";

import { server } from "../index.js";
import {
  FAST,
  MARKER,
  captureConsoleError,
  fakeClient,
  headersInput,
  loopback,
  realBinary,
  rpcSession,
  tempStoreEnv,
  warnings,
} from "./helpers.mjs";

const ALPHA = "test-key-alpha-FAKE";
const BRAVO = "test-key-bravo-FAKE";
/** Keys that always answer 200 with rate-limit headers: solo/gamma, duo/delta, duo/echo. */
const FINE = { "test-key-gamma-FAKE": "gamma", "test-key-delta-FAKE": "delta", "test-key-echo-FAKE": "echo" };
const RATE_HEADERS = { "x-ratelimit-limit-requests": "100", "x-ratelimit-remaining-requests": "40", "x-ratelimit-reset-requests": "30s" };

let binary;
let env;
let store;
let http;

/** 429 with Retry-After for alpha, 200 for bravo, 401 for anything else. */
function provider(req) {
  const key = String(req.headers.authorization ?? "").replace(/^Bearer\s+/i, "");
  if (key === ALPHA) {
    return {
      status: 429,
      headers: { "content-type": "application/json", "retry-after": "120", "x-ratelimit-remaining-requests": "0" },
      body: JSON.stringify({ error: { message: "Rate limit reached", type: "requests", code: "rate_limit_exceeded" } }),
    };
  }
  if (key === BRAVO) return { status: 200, headers: { "content-type": "application/json" }, body: '{"answer":"bravo"}' };
  if (FINE[key]) return { status: 200, headers: { "content-type": "application/json", ...RATE_HEADERS }, body: JSON.stringify({ answer: FINE[key] }) };
  return { status: 401, headers: { "content-type": "application/json" }, body: '{"error":{"message":"bad key"}}' };
}

before(async () => {
  binary = realBinary();
  env = tempStoreEnv("ocb-real-sidecar-");
  store = env.store;
  http = await loopback(provider);

  const rpc = rpcSession(binary, store);
  try {
    const init = await rpc.call("initialize", { client: { name: "plugin-tests", version: "0" } }).catch((e) => {
      throw new Error(`the real sidecar at ${binary} does not answer initialize over stdio: ${e.message}`);
    });
    assert.equal(init.protocolVersion, 1);
    for (const [alias, key] of [
      ["alpha", ALPHA],
      ["bravo", BRAVO],
    ]) {
      const view = await rpc.call("accounts.save", { providerID: "mock", alias, auth: { type: "api", key } });
      assert.equal(view.alias, alias);
      assert.equal(JSON.stringify(view).includes(key), false, "an AccountView never carries the key");
    }
    // Alpha must be the one tried first.
    await rpc.call("accounts.activate", { providerID: "mock", alias: "alpha" });
    for (const [key, alias] of Object.entries(FINE)) {
      await rpc.call("accounts.save", { providerID: alias === "gamma" ? "solo" : "duo", alias, auth: { type: "api", key } });
    }
    await rpc.call("accounts.activate", { providerID: "duo", alias: "delta" });
  } finally {
    await rpc.close();
  }
});

after(async () => {
  await http?.close();
  env?.restore();
});

async function plugin(t, options = {}) {
  const quiet = captureConsoleError();
  const { client, calls } = fakeClient();
  const hooks = await server({ client }, { ...FAST, timeoutMs: 3000, commandTimeoutMs: 10_000, binary, store, ...options });
  t.after(async () => {
    await hooks.dispose();
    quiet.restore();
  });
  return { hooks, calls, consoleErr: quiet };
}

test("failover through the real sidecar: alpha 429, then bravo 200; the store records it", async (t) => {
  const { hooks, calls, consoleErr } = await plugin(t);
  const before = http.requests.length;
  const output = { headers: {} };
  await hooks["chat.headers"](headersInput("mock", "ses_real_1"), output);
  assert.equal(typeof output.headers[MARKER], "string", "the sidecar manages the provider with saved accounts");

  const res = await fetch(`${http.url}/v1/chat/completions`, {
    method: "POST",
    headers: { ...output.headers, authorization: "Bearer opencode-own-key", "content-type": "application/json" },
    body: JSON.stringify({ model: "m1", stream: false, messages: [{ role: "user", content: "hi" }] }),
  });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { answer: "bravo" });
  const seen = http.requests.slice(before);
  assert.deepEqual(
    seen.map((r) => r.headers.authorization),
    [`Bearer ${ALPHA}`, `Bearer ${BRAVO}`],
  );
  assert.ok(seen.every((r) => r.headers[MARKER] === undefined));
  assert.ok(seen[0].body.equals(seen[1].body));
  assert.deepEqual(consoleErr.lines, [], "no outage warning from the plugin");
  assert.ok(
    !warnings(calls).some((w) => /unavailable/.test(w.body.message)),
    `no outage toast; toasts: ${JSON.stringify(calls.toasts.map((x) => x.body))}`,
  );

  // The balancer_command tool speaks to the same sidecar.
  const list = await hooks.tool.balancer_command.execute({ text: "list" });
  assert.match(list, /alpha/);
  assert.match(list, /bravo/);

  await hooks.dispose(); // EOF: the sidecar flushes what it owes the store

  const rpc = rpcSession(binary, store);
  try {
    const accounts = await rpc.call("accounts.list", { providerID: "mock" });
    const alpha = accounts.find((a) => a.alias === "alpha");
    const bravo = accounts.find((a) => a.alias === "bravo");
    assert.ok(alpha && bravo);
    assert.ok(typeof alpha.coolingDownUntil === "number" && alpha.coolingDownUntil > Date.now() + 60_000, "alpha cools down ~120 s");
    assert.equal(bravo.coolingDownUntil, null);
    const events = await rpc.call("events.list", { limit: 50 });
    assert.ok(
      events.some((e) => e.type === "failover_performed"),
      `a failover_performed event; got ${events.map((e) => e.type).join(", ")}`,
    );
  } finally {
    await rpc.close();
  }
});

test("a provider without saved accounts passes through untouched", async (t) => {
  const { hooks } = await plugin(t);
  const output = { headers: {} };
  await hooks["chat.headers"](headersInput("openai", "ses_real_2", "gpt-x"), output);
  assert.equal(output.headers[MARKER], undefined);
  const msg = { model: { providerID: "openai", modelID: "gpt-x" } };
  await hooks["chat.message"]({ sessionID: "ses_real_2", model: { providerID: "openai", modelID: "gpt-x" } }, { message: msg, parts: [] });
  assert.deepEqual(msg.model, { providerID: "openai", modelID: "gpt-x" }, "balancing is off by default");
});

test("/balancer list through the real sidecar puts the accounts in place of the command's parts", async (t) => {
  const { hooks, calls } = await plugin(t);
  const parts = [{ type: "text", text: "list" }];
  await hooks["command.execute.before"]({ command: "balancer", sessionID: "ses_real_3", arguments: "list" }, { parts });
  assert.equal(calls.prompts[0]?.body.noReply, true);
  const shown = parts[0]?.text ?? "";
  assert.match(shown, /alpha/);
  assert.match(shown, /bravo/);
  const help = await hooks.tool.balancer_command.execute({ text: "help" });
  assert.match(help, /list/);
});

/** The plugin's process-wide runtime, with the hot-path calls it makes from now on and a way to await a notification. */
function watchRuntime(t) {
  const runtime = globalThis[Symbol.for("opencode-balancer.plugin.runtime")];
  const calls = [];
  const waiting = [];
  const call = runtime.sidecar.call;
  runtime.sidecar.call = function (method, params, timeoutMs) {
    // An opening asked ahead is awaited by nobody (openings.test.js).
    if (["chat.headers", "fetch.begin", "fetch.result"].includes(method) && params?.ahead !== true) calls.push(method);
    return call.call(this, method, params, timeoutMs);
  };
  const onNotification = runtime.onNotification;
  runtime.onNotification = function (method, params) {
    onNotification.call(this, method, params);
    for (const w of [...waiting]) {
      if (method === "event" && w.pred(params)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(params);
      }
    }
  };
  t.after(() => {
    runtime.sidecar.call = call;
    runtime.onNotification = onNotification;
  });
  const event = (pred) => new Promise((resolve) => waiting.push({ pred, resolve }));
  return { runtime, calls, event };
}

function send(output, path = "/v1/chat/completions") {
  return fetch(`${http.url}${path}`, {
    method: "POST",
    headers: { ...output.headers, authorization: "Bearer opencode-own-key", "content-type": "application/json" },
    body: JSON.stringify({ model: "m1", messages: [{ role: "user", content: "hi" }] }),
  });
}

test("a 2xx through the real sidecar: one awaited call; last use and passive usage recorded from the notification", async (t) => {
  const { hooks } = await plugin(t);
  const { runtime, calls, event } = watchRuntime(t);
  const usage = event((e) => e.type === "usage_refreshed" && e.providerID === "solo" && e.alias === "gamma");
  const output = { headers: {} };
  await hooks["chat.headers"](headersInput("solo", "ses_real_solo"), output);
  const res = await send(output);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { answer: "gamma" });
  await usage;
  assert.deepEqual(calls, ["chat.headers"], "chat.headers is the request's only awaited call");
  const [gamma] = await runtime.call("accounts.list", { providerID: "solo" });
  assert.equal(typeof gamma.lastUsedAt, "number", "last use recorded");
  assert.ok(Math.abs(gamma.lastUsedAt - Date.now()) < 60_000);
  assert.equal(gamma.failures, 0);
  assert.equal(gamma.usage?.confidence, "estimated", "the x-ratelimit-* headers were read");
  assert.equal(gamma.usage?.usedPercent, 60);
});

test("the account picked at chat.headers is disabled before the fetch: it asks fetch.begin and goes out as the other", async (t) => {
  const { hooks } = await plugin(t);
  const { runtime, calls, event } = watchRuntime(t);
  const output = { headers: {} };
  await hooks["chat.headers"](headersInput("duo", "ses_real_duo"), output);
  const id = output.headers[MARKER];
  assert.equal(runtime.held.get(id)?.begin?.account.alias, "delta", "chat.headers answered on delta");
  const disabled = event((e) => e.type === "account_disabled" && e.alias === "delta");
  await runtime.call("accounts.setDisabled", { providerID: "duo", alias: "delta", disabled: true });
  t.after(() => runtime.call("accounts.setDisabled", { providerID: "duo", alias: "delta", disabled: false }).catch(() => {}));
  await disabled;
  const before = http.requests.length;
  const res = await send(output);
  assert.deepEqual(await res.json(), { answer: "echo" });
  assert.deepEqual(
    http.requests.slice(before).map((r) => r.headers.authorization),
    ["Bearer test-key-echo-FAKE"],
    "one request, as echo",
  );
  assert.deepEqual(calls, ["chat.headers", "fetch.begin"]);
});
