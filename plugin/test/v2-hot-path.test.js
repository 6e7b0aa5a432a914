// The V2 adapter's hot path (plugin/v2/) with a fake V2 context, the fake sidecar and a
// loopback provider: node --test plugin/test/v2-hot-path.test.js

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { fakeCalls, fakeSidecar, keyedResponder, loopback, removeDir, tempDir, waitFor } from "./helpers.mjs";
import { fakeV2Context, sidecarDeps, v2Send } from "./v2-helpers.mjs";
import { startV2 } from "../v2/adapter.js";

const KEY_A = "fake-key-alpha-0001";
const KEY_B = "fake-key-bravo-0002";
const KEY_C = "fake-key-charlie-0003";
const SECRETS = { cred_a: KEY_A, cred_b: KEY_B, cred_c: KEY_C };

/** A fake sidecar with `config`, a loopback provider answering `respond`, the adapter started on a fake V2 context. */
async function setup(t, config, respond, ctxOptions = {}) {
  const dir = tempDir("ocb-v2-test-");
  const { binary, log } = fakeSidecar(dir, config);
  const http = await loopback(respond);
  const side = await sidecarDeps(binary);
  const fake = fakeV2Context({ secrets: SECRETS, active: { mock: "cred_a" }, ...ctxOptions });
  assert.ok(await startV2(fake.ctx, side.deps));
  t.after(async () => {
      await side.close();
    await http.close();
    removeDir(dir);
  });
  return { http, fake, side, log, url: `${http.url}/v1/chat/completions` };
}

function assertNoSecret(lines) {
  for (const line of lines) for (const key of [KEY_A, KEY_B, KEY_C]) assert.ok(!String(line).includes(key), `a secret in the log: ${line}`);
}

test("a 429 on credential A is answered by credential B inside the same call", async (t) => {
  const s = await setup(t, { credentials: { mock: ["cred_a", "cred_b"] }, prepareBegin: true }, keyedResponder({ [KEY_A]: 429 }));
  const a = await v2Send(s.fake, { url: s.url, key: KEY_A });
  assert.equal(a.response.status, 200);
  assert.equal(await a.response.text(), `ok ${KEY_B}`);
  assert.deepEqual(
    s.http.requests.map((r) => r.headers.authorization),
    [`Bearer ${KEY_A}`, `Bearer ${KEY_B}`],
  );
  // the same body went out again
  assert.equal(s.http.requests[1].body.toString(), s.http.requests[0].body.toString());
  // The 2xx is a notification: the fake logs it when it reads it.
  const results = await waitFor(() => (fakeCalls(s.log, "fetch.result").length === 2 ? fakeCalls(s.log, "fetch.result") : null), 5000, "the 2xx result");
  assert.equal(results[0].params.status, 429);
  assert.equal(results[1].params.status, 200);
  assert.equal(results[1].id, undefined, "a 2xx is told as a notification");
  const lent = fakeCalls(s.log, "credentials.lend").map((m) => m.params.credentialID);
  assert.deepEqual([...new Set(lent)].sort(), ["cred_a", "cred_b"]);
  assert.deepEqual(s.fake.calls.resolves, ["cred_a", "cred_b"], "each secret is asked of V2 once");
  assertNoSecret(s.side.logs);
});

test("an opencode2 pick other than the active credential goes out with its own secret from the first attempt", async (t) => {
  const s = await setup(t, { credentials: { mock: ["cred_b"] }, prepareBegin: true }, keyedResponder({}));
  const a = await v2Send(s.fake, { url: s.url, key: KEY_A });
  assert.equal(await a.response.text(), `ok ${KEY_B}`);
  assert.equal(s.http.requests.length, 1);
  assert.equal(s.http.requests[0].headers.authorization, `Bearer ${KEY_B}`);
});

test("the secret replaces the active one in whatever header V2 put it (x-api-key)", async (t) => {
  const s = await setup(t, { credentials: { mock: ["cred_a", "cred_b"] }, prepareBegin: true }, (req) =>
    req.headers["x-api-key"] === KEY_A ? { status: 429, body: "{}" } : { status: 200, body: `ok ${req.headers["x-api-key"]}` },
  );
  const base = { sessionID: "ses_x", agent: "build", model: { providerID: "mock", id: "m1" }, kind: "primary" };
  const request = new Request(s.url, { method: "POST", headers: { "x-api-key": KEY_A }, body: "{}" });
  const a = await s.fake.trigger("http.request", { ...base, request });
  const sent = await fetch(a.request.url, { method: "POST", headers: a.request.headers, body: "{}" });
  const r = await s.fake.trigger("http.response", { ...base, request: a.request, response: new Response(sent.body, { status: sent.status }) });
  assert.equal(await r.response.text(), `ok ${KEY_B}`);
  assert.equal(s.http.requests[1].headers.authorization, undefined);
});

test("accounts whose secret the sidecar holds get its headers as on V1", async (t) => {
  const s = await setup(t, { accounts: { mock: ["key-a", "key-b"] }, prepareBegin: true }, keyedResponder({ "key-a": 429 }));
  const a = await v2Send(s.fake, { url: s.url, key: KEY_A });
  assert.equal(await a.response.text(), "ok key-b");
  assert.deepEqual(s.http.requests.map((r) => r.headers.authorization), ["Bearer key-a", "Bearer key-b"]);
  assert.deepEqual(s.fake.calls.resolves, []);
});

test("an error event first in a 200 stream fails over to credential B", async (t) => {
  const s = await setup(t, { credentials: { mock: ["cred_a", "cred_b"] }, prepareBegin: true }, (req) => {
    const key = String(req.headers.authorization).replace(/^Bearer /, "");
    if (key === KEY_A) {
      return {
        status: 200,
        headers: { "content-type": "text/event-stream" },
        body: 'event: error\ndata: {"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}\n\n',
      };
    }
    return { status: 200, headers: { "content-type": "text/event-stream" }, body: `data: {"choices":[{"delta":{"content":"hi from ${key}"}}]}\n\ndata: [DONE]\n\n` };
  });
  const a = await v2Send(s.fake, { url: s.url, key: KEY_A });
  const text = await a.response.text();
  assert.match(text, new RegExp(`hi from ${KEY_B}`));
  assert.doesNotMatch(text, /rate_limit_error/);
  assert.equal(fakeCalls(s.log, "fetch.stream").length, 1);
});

test("a dry provider moves the request to the next provider's credential (same API)", async (t) => {
  const s = await setup(
    t,
    {
      credentials: { mock: ["cred_a"] },
      prepareBegin: true,
      sequence: {
        "fetch.result": [
          {
            action: "switch",
            account: { providerID: "other", alias: "charlie" },
            modelID: "m2",
            url: "http://127.0.0.1:9/set-below",
            setHeaders: {},
            removeHeaders: ["authorization"],
            body: { set: { model: "m2" } },
            credential: { id: "cred_c", provider: "other" },
            // The real sidecar says it on every switch: the edit must keep the new URL and body.
            stripState: { scope: "provider-move" },
          },
          { action: "return" },
        ],
      },
    },
    (req) => (req.url.startsWith("/other") ? { status: 200, body: `ok ${req.headers.authorization}` } : { status: 429, body: "{}" }),
  );
  // The switch names the loopback URL, known only now; the fake sidecar reads its config when it starts (first call).
  const file = process.env.FAKE_SIDECAR_CONFIG;
  const config = JSON.parse(readFileSync(file, "utf8"));
  config.sequence["fetch.result"][0].url = `${s.http.url}/other/v1/chat/completions`;
  writeFileSync(file, JSON.stringify(config));
  const a = await v2Send(s.fake, { url: s.url, key: KEY_A });
  assert.equal(await a.response.text(), `ok Bearer ${KEY_C}`);
  assert.equal(s.http.requests[1].url, "/other/v1/chat/completions");
  assert.equal(JSON.parse(s.http.requests[1].body.toString()).model, "m2");
  assert.equal(fakeCalls(s.log, "continuity.strip")[0].params.url, `${s.http.url}/other/v1/chat/completions`);
});

test("a dry provider with a final answer ends the call at once with the plain message and moves the session on", async (t) => {
  const message = "every account of mock rests: alpha until 14:05 UTC; the next message goes to other/m2";
  const s = await setup(
    t,
    {
      credentials: { mock: ["cred_a"] },
      prepareBegin: true,
      results: {
        "fetch.result": { action: "fail", status: 400, message, resubmit: { sessionID: "ses_v2", providerID: "other", modelID: "m2", message: "sent again on other/m2" } },
      },
    },
    () => ({ status: 429, body: "{}" }),
  );
  const a = await v2Send(s.fake, { url: s.url, key: KEY_A });
  assert.equal(a.response.status, 400);
  const body = await a.response.json();
  assert.equal(body.error.message, message);
  assert.equal(body.error.code, "opencode_balancer_provider_resting");
  assert.deepEqual(s.fake.calls.switchModel, [{ sessionID: "ses_v2", model: { providerID: "other", id: "m2" } }]);
  assert.equal(s.http.requests.length, 1);
});

test("a sidecar that dies passes the request and response through unchanged", async (t) => {
  const s = await setup(t, { credentials: { mock: ["cred_a", "cred_b"] }, prepareBegin: true, mode: "crash", on: "chat.headers" }, keyedResponder({ [KEY_A]: 429 }));
  const a = await v2Send(s.fake, { url: s.url, key: KEY_A });
  assert.equal(a.response.status, 429);
  assert.equal(s.http.requests.length, 1);
  assert.equal(s.http.requests[0].headers.authorization, `Bearer ${KEY_A}`);
  assert.ok(s.side.logs.some((l) => l.includes("http.request")), "the failure is logged");
  assertNoSecret(s.side.logs);
});

test("a V2 that cannot resolve the credential leaves the refused response as it came, and logs no secret", async (t) => {
  const s = await setup(t, { credentials: { mock: ["cred_a", "cred_b"] }, prepareBegin: true }, keyedResponder({ [KEY_A]: 429 }), { resolveThrows: true });
  const a = await v2Send(s.fake, { url: s.url, key: KEY_A });
  assert.equal(a.response.status, 429);
  assert.match(await a.response.text(), /rate limited/);
  assertNoSecret(s.side.logs);
});

test("continuity: a retry told stripState re-sends the body without the other account's state", async (t) => {
  const stripped = '{"model":"m1","input":[]}';
  const s = await setup(
    t,
    {
      credentials: { mock: ["cred_a", "cred_b"] },
      prepareBegin: true,
      sequence: {
        "fetch.result": [
          { action: "retry", account: { providerID: "mock", alias: "bravo" }, setHeaders: {}, credential: { id: "cred_b", provider: "mock" }, stripState: { scope: "same-provider" } },
          { action: "return" },
        ],
      },
      results: { "continuity.strip": { body: stripped, removed: 1 } },
    },
    keyedResponder({ [KEY_A]: 429 }),
  );
  const original = '{"model":"m1","input":[{"type":"reasoning","encrypted_content":"gAAAA-fake"}]}';
  const a = await v2Send(s.fake, { url: s.url, key: KEY_A, body: original });
  assert.equal(await a.response.text(), `ok ${KEY_B}`);
  assert.equal(s.http.requests[0].body.toString(), original);
  assert.equal(s.http.requests[1].body.toString(), stripped);
  const asked = fakeCalls(s.log, "continuity.strip");
  assert.equal(asked.length, 1);
  assert.deepEqual([asked[0].params.scope, asked[0].params.body], ["same-provider", original]);
});

test("continuity: a first request told stripState goes out stripped; without it the body is sent byte for byte", async (t) => {
  const stripped = '{"model":"m1","messages":[]}';
  const s = await setup(
    t,
    {
      credentials: { mock: ["cred_b"] },
      prepareBegin: true,
      sequence: {
        "chat.headers": [
          { requestID: "req-1", begin: { account: { providerID: "mock", alias: "bravo" }, setHeaders: {}, watch: ["authorization"], credential: { id: "cred_b", provider: "mock" }, stripState: { scope: "same-provider" } } },
          { requestID: "req-2", begin: { account: { providerID: "mock", alias: "bravo" }, setHeaders: {}, watch: ["authorization"], credential: { id: "cred_b", provider: "mock" } } },
        ],
      },
      results: { "continuity.strip": { body: stripped, removed: 1 } },
    },
    keyedResponder({}),
  );
  const original = '{"model":"m1","messages":[{"role":"assistant","content":[{"type":"thinking","signature":"fake"}]}]}';
  const a = await v2Send(s.fake, { url: s.url, key: KEY_A, body: original });
  assert.equal(await a.response.text(), `ok ${KEY_B}`);
  assert.equal(s.http.requests[0].body.toString(), stripped);
  await v2Send(s.fake, { url: s.url, key: KEY_A, body: original });
  assert.equal(s.http.requests[1].body.toString(), original);
  assert.equal(s.http.requests[1].headers.authorization, `Bearer ${KEY_B}`);
  assert.equal(fakeCalls(s.log, "continuity.strip").length, 1);
});

test("a refusal the sidecar leaves to V2 ends at once with the plain message when every account rests", async (t) => {
  const until = Date.now() + 600_000;
  const s = await setup(
    t,
    { credentials: { mock: ["cred_a"] }, prepareBegin: true, results: { "accounts.list": [{ providerID: "mock", alias: "alpha", disabled: false, coolingDownUntil: until }] } },
    keyedResponder({ [KEY_A]: 429 }),
  );
  const a = await v2Send(s.fake, { url: s.url, key: KEY_A });
  assert.equal(a.response.status, 400, "V2 does not retry a 400: no 120 s wait");
  assert.match((await a.response.json()).error.message, /every account of mock is resting: alpha until \d\d:\d\d UTC/);
  assert.equal(s.http.requests.length, 1);
});

test("a refusal the sidecar leaves to V2 stays as it came while another account is ready", async (t) => {
  const s = await setup(
    t,
    {
      credentials: { mock: ["cred_a"] },
      prepareBegin: true,
      results: {
        "accounts.list": [
          { providerID: "mock", alias: "alpha", disabled: false, coolingDownUntil: Date.now() + 600_000 },
          { providerID: "mock", alias: "bravo", disabled: false, coolingDownUntil: null },
        ],
      },
    },
    keyedResponder({ [KEY_A]: 429 }),
  );
  const a = await v2Send(s.fake, { url: s.url, key: KEY_A });
  assert.equal(a.response.status, 429);
  assert.match(await a.response.text(), /rate limited/);
});

test("a refusal about the request itself (400) reaches V2 as it came, even while every account rests", async (t) => {
  const s = await setup(
    t,
    { credentials: { mock: ["cred_a"] }, prepareBegin: true, results: { "fetch.result": { action: "return" }, "accounts.list": [{ providerID: "mock", alias: "alpha", disabled: false, coolingDownUntil: Date.now() + 600_000 }] } },
    () => ({ status: 400, headers: { "content-type": "application/json" }, body: '{"error":{"message":"messages: field required"}}' }),
  );
  const a = await v2Send(s.fake, { url: s.url, key: KEY_A });
  assert.equal(a.response.status, 400);
  assert.match(await a.response.text(), /field required/);
  assert.equal(fakeCalls(s.log, "accounts.list").length, 0);
});

test("V2's providers are described to the sidecar once, as npm names it knows, and chat.headers carries the provider's api", async (t) => {
  const providers = [
    { id: "mock", name: "Mock", activation: "enabled", package: "@opencode/ai/providers/openai-compatible", settings: { baseURL: "http://127.0.0.1:9/v1", provider: "mock" } },
    { id: "other", name: "Other", activation: "enabled", package: "aisdk:@ai-sdk/openai-compatible", settings: { baseURL: "http://127.0.0.1:9/other/v1", headers: { "x-gateway": "fake-gateway-0001" } } },
    { id: "router", name: "Router", activation: "enabled", package: "@opencode/ai/providers/openrouter", settings: {} },
    { id: "odd", name: "Odd", activation: "enabled", package: "@opencode/ai/providers/alibaba/chat", settings: {} },
  ];
  const s = await setup(t, { credentials: { mock: ["cred_a"] }, prepareBegin: true }, keyedResponder({}), { providers });
  await v2Send(s.fake, { url: s.url, key: KEY_A });
  await v2Send(s.fake, { url: s.url, key: KEY_A });
  const described = fakeCalls(s.log, "providers.describe");
  assert.equal(described.length, 1);
  assert.deepEqual(described[0].params.providers, [
    { providerID: "mock", npm: "@ai-sdk/openai-compatible", baseURL: "http://127.0.0.1:9/v1" },
    { providerID: "other", npm: "@ai-sdk/openai-compatible", baseURL: "http://127.0.0.1:9/other/v1", headers: { "x-gateway": "fake-gateway-0001" } },
    { providerID: "router", npm: "@openrouter/ai-sdk-provider" },
  ]);
  assert.deepEqual(fakeCalls(s.log, "chat.headers")[0].params.api, { npm: "@ai-sdk/openai-compatible", baseURL: "http://127.0.0.1:9/v1" });
  assert.ok(!s.side.logs.some((l) => l.includes("fake-gateway-0001")));
});
