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

test("/balancer list through the real sidecar stops the prompt and shows the accounts", async (t) => {
  const { hooks, calls } = await plugin(t);
  await assert.rejects(
    hooks["command.execute.before"]({ command: "balancer", sessionID: "ses_real_3", arguments: "list" }, { parts: [] }),
    { name: "BalancerCommandHandled" },
  );
  const shown = calls.prompts[0]?.body.parts[0].text ?? "";
  assert.match(shown, /alpha/);
  assert.match(shown, /bravo/);
  const help = await hooks.tool.balancer_command.execute({ text: "help" });
  assert.match(help, /list/);
});
