// A switch to another provider through the plugin and the real sidecar (OPENCODE_BALANCER_BIN,
// else target/release/opencode-balancer), both providers on one loopback server: what reaches
// the second provider is its URL, its key and configured headers, and the request's neutral
// headers — nothing of the first provider's credentials, gateway headers or query.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";

import { server } from "../index.js";
import { FAST, MARKER, captureConsoleError, fakeClient, headersInput, loopback, realBinary, rpcSession, tempStoreEnv } from "./helpers.mjs";

const KEY_A = "sk-test-pa-alpha-FAKE";
const KEY_B = "sk-test-pb-bravo-FAKE";

let binary;
let env;
let store;
let http;

/** /a/… rests long (429, Retry-After: 120); /b/… answers. */
function twoProviders(req) {
  if (req.url.startsWith("/a/")) {
    return { status: 429, headers: { "content-type": "application/json", "retry-after": "120" }, body: '{"error":{"message":"slow down"}}' };
  }
  return { status: 200, headers: { "content-type": "application/json" }, body: '{"answer":"b"}' };
}

before(async () => {
  binary = realBinary();
  env = tempStoreEnv("ocb-switch-real-");
  store = env.store;
  http = await loopback(twoProviders);
  const rpc = rpcSession(binary, store);
  try {
    await rpc.call("initialize", { client: { name: "plugin-tests", version: "0" } });
    await rpc.call("accounts.save", { providerID: "pa", alias: "alpha", auth: { type: "api", key: KEY_A } });
    await rpc.call("accounts.save", { providerID: "pb", alias: "bravo", auth: { type: "api", key: KEY_B } });
    await rpc.call("priority.setModel", { providerID: "pa", modelID: "ma" });
    await rpc.call("priority.setModel", { providerID: "pb", modelID: "mb" });
    await rpc.call("balancing.set", { enabled: true });
  } finally {
    await rpc.close();
  }
});

after(async () => {
  await http?.close();
  env?.restore();
});

test("a switch sends the next provider only its own URL, key and configured headers", async (t) => {
  const quiet = captureConsoleError();
  const { client } = fakeClient();
  const hooks = await server({ client }, { ...FAST, timeoutMs: 3000, binary, store });
  t.after(async () => {
    await hooks.dispose();
    quiet.restore();
  });
  const npm = "@ai-sdk/openai-compatible";
  await hooks.config({
    provider: {
      pa: { npm, options: { baseURL: `${http.url}/a/v1`, headers: { "helicone-auth": "Bearer hk-FAKE-pa" } } },
      pb: { npm, options: { baseURL: `${http.url}/b/v1`, headers: { "HTTP-Referer": "https://b.example/" } } },
    },
  });
  const output = { headers: {} };
  await hooks["chat.headers"](headersInput("pa", "ses_switch", "ma"), output);
  assert.equal(typeof output.headers[MARKER], "string", "pa is managed");

  const res = await fetch(`${http.url}/a/v1/chat/completions?key=sk-FAKE-query-pa&api-key=sk-FAKE-query-pa`, {
    method: "POST",
    headers: {
      ...output.headers,
      authorization: "Bearer opencode-own-key-FAKE",
      "x-portkey-api-key": "pk-FAKE-pa",
      "helicone-auth": "Bearer hk-FAKE-pa",
      cookie: "session=FAKE-pa",
      "openai-organization": "org-FAKE-pa",
      "content-type": "application/json",
      "user-agent": "ai-sdk/test",
    },
    body: JSON.stringify({ model: "ma", messages: [{ role: "user", content: "hi" }] }),
  });
  assert.equal(res.status, 200);
  const atB = http.requests.filter((r) => r.url.startsWith("/b/"));
  assert.equal(atB.length, 1);
  const [b] = atB;
  assert.equal(b.url, "/b/v1/chat/completions", "no query of pa's URL");
  assert.equal(b.headers.authorization, `Bearer ${KEY_B}`);
  assert.equal(b.headers["http-referer"], "https://b.example/");
  assert.equal(b.headers["content-type"], "application/json");
  assert.equal(b.headers["user-agent"], "ai-sdk/test");
  for (const name of ["x-portkey-api-key", "helicone-auth", "cookie", "openai-organization", MARKER]) {
    assert.equal(b.headers[name], undefined, `${name} reached pb`);
  }
  assert.ok(!JSON.stringify(b.headers).includes("FAKE-pa") && !JSON.stringify(b.headers).includes(KEY_A));
  assert.equal(JSON.parse(b.body.toString()).model, "mb");
});
