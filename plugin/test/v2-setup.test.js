// The V2 adapter's setup, retry and session rules (plugin/v2/adapter.js, retry.js, session.js)
// with a fake V2 context: node --test plugin/test/v2-setup.test.js

import { test } from "node:test";
import assert from "node:assert/strict";
import { FAST, fakeCalls, fakeSidecar, keyedResponder, loopback, removeDir, tempDir } from "./helpers.mjs";
import { fakeV2Context, sidecarDeps, v2Send } from "./v2-helpers.mjs";
import * as entry from "../index.js";
import { redact } from "../../common/safe-text.js";
import { Runtime } from "../runtime.js";
import { startV2 } from "../v2/adapter.js";
import { runtimeDeps } from "../v2/index.js";

const NOW = Date.now();

function account(alias, extra = {}) {
  return { providerID: "mock", alias, authType: "api", active: false, disabled: false, coolingDownUntil: null, failures: 0, lastUsedAt: null, createdAt: 0, usage: null, ...extra };
}

async function started(t, config = {}, ctxOptions = {}) {
  const dir = tempDir("ocb-v2-setup-");
  const { binary, log } = fakeSidecar(dir, config);
  const side = await sidecarDeps(binary);
  const fake = fakeV2Context(ctxOptions);
  await startV2(fake.ctx, side.deps);
  t.after(async () => {
      await side.close();
    removeDir(dir);
  });
  return { fake, side, log };
}

function retryArg(delay = 120000) {
  return {
    sessionID: "ses_r",
    agent: "build",
    model: { providerID: "mock", id: "m1" },
    error: { type: "provider.rate-limit", message: "Too Many Requests", status: 429, response: { body: "{}" }, retryAfterMs: delay },
    attempt: 2,
    decision: { retry: true, delay },
  };
}

const V2_KEY = Symbol.for("opencode-balancer.plugin.v2");
const RUNTIME_KEY = Symbol.for("opencode-balancer.plugin.runtime");

test("setup under V1's context (1.18 calls setup too) registers nothing and starts no sidecar", async () => {
  // What opencode 1.18.33 passes to `setup`: an experimental context, no session, no event, no integration.get.
  const v1ctx = { client: {}, project: {}, directory: "/tmp", integration: { list: async () => [] } };
  assert.equal(await entry.default.setup(v1ctx), undefined);
  assert.equal(await startV2(v1ctx, { call: async () => assert.fail("no sidecar call under V1") }), null);
  assert.equal(globalThis[V2_KEY], undefined);
  assert.equal(globalThis[RUNTIME_KEY], undefined);
});

test("a plugin set up twice in one V2 process registers its hooks once", async (t) => {
  t.after(() => delete globalThis[V2_KEY]);
  const first = fakeV2Context();
  const second = fakeV2Context();
  await entry.default.setup(first.ctx);
  await entry.default.setup(second.ctx);
  assert.deepEqual(first.calls.registered.sort(), ["http.request", "http.response", "model.request", "prompt", "retry"]);
  assert.deepEqual(second.calls.registered, []);
  assert.equal(globalThis[RUNTIME_KEY], undefined, "no sidecar before a hook needs one");
});

test("through the entry, V2's hooks fail over on the process's one sidecar (the plugin option `binary`)", async (t) => {
  const dir = tempDir("ocb-v2-entry-");
  const { binary, log } = fakeSidecar(dir, { credentials: { mock: ["cred_a", "cred_b"] }, prepareBegin: true });
  const http = await loopback(keyedResponder({ "fake-key-alpha-0001": 429 }));
  const fake = fakeV2Context({ secrets: { cred_a: "fake-key-alpha-0001", cred_b: "fake-key-bravo-0002" }, active: { mock: "cred_a" } });
  fake.ctx.options = { binary, ...FAST };
  t.after(async () => {
    delete globalThis[V2_KEY];
    await globalThis[RUNTIME_KEY]?.release(null);
    await http.close();
    removeDir(dir);
  });
  await entry.default.setup(fake.ctx);
  const a = await v2Send(fake, { url: `${http.url}/v1/chat/completions`, key: "fake-key-alpha-0001" });
  assert.equal(await a.response.text(), "ok fake-key-bravo-0002");
  assert.equal(fakeCalls(log, "fetch.result")[0].params.status, 429);
});

test("a hook whose work throws passes its argument through unchanged", async () => {
  const fake = fakeV2Context();
  const logs = [];
  const deps = { call: async () => { throw new Error("sidecar exploded"); }, notify: () => {}, log: (l) => logs.push(l) };
  await startV2(fake.ctx, deps);
  const a = retryArg();
  await fake.trigger("retry", a);
  assert.deepEqual(a.decision, { retry: true, delay: 120000 });
  const p = { sessionID: "ses_p", messageID: "msg_1", prompt: { text: "hi" } };
  await fake.trigger("prompt", p);
  assert.deepEqual(fake.calls.switchModel, []);
  assert.ok(logs.some((l) => l.startsWith("retry: sidecar exploded")));
});

test("V2 does not wait when another account of the provider is ready", async (t) => {
  const s = await started(t, { results: { "accounts.list": [account("alpha", { coolingDownUntil: NOW + 600_000, cooldownReason: "rate_limit" }), account("bravo")] } });
  const a = retryArg();
  await s.fake.trigger("retry", a);
  assert.deepEqual(a.decision, { retry: true, delay: 0 });
});

test("V2 does not wait when every account rests: no retry, and the plain message says until when", async (t) => {
  const s = await started(t, {
    results: { "accounts.list": [account("alpha", { coolingDownUntil: NOW + 600_000 }), account("bravo", { coolingDownUntil: NOW + 900_000 }), account("off", { disabled: true })] },
  });
  const a = retryArg();
  await s.fake.trigger("retry", a);
  assert.deepEqual(a.decision, { retry: false });
  assert.match(a.error.message, /every account of mock is resting: alpha until \d\d:\d\d UTC \(in 10 min\), bravo until/);
  assert.doesNotMatch(a.error.message, /off/);
  assert.ok(s.side.toasts.some((x) => x.message === a.error.message));
});

test("V2's retry is left alone for a provider the balancer has no resting account of", async (t) => {
  const s = await started(t, { results: { "accounts.list": [account("alpha"), account("bravo")] } });
  const a = retryArg();
  await s.fake.trigger("retry", a);
  assert.deepEqual(a.decision, { retry: true, delay: 120000 });
  const none = await started(t, { results: { "accounts.list": [] } });
  const b = retryArg();
  await none.fake.trigger("retry", b);
  assert.deepEqual(b.decision, { retry: true, delay: 120000 });
});

/** V2's `model.request` for a session on `model` (every provider request has one first). */
function modelRequest(fake, sessionID, model = { providerID: "mock", id: "m1" }) {
  return fake.trigger("model.request", { sessionID, agent: "build", model, kind: "primary", baseURL: "http://127.0.0.1:9/v1", headers: {} });
}

test("balancing chooses the model per message: the sidecar's answer switches the session", async (t) => {
  const s = await started(t, { results: { "chat.message": { model: { providerID: "other", modelID: "m2" } } } });
  await modelRequest(s.fake, "ses_b");
  await s.fake.trigger("prompt", { sessionID: "ses_b", messageID: "msg_1", prompt: { text: "hi" } });
  assert.deepEqual(s.fake.calls.switchModel, [{ sessionID: "ses_b", model: { providerID: "other", id: "m2" } }]);
  const asked = fakeCalls(s.log, "chat.message");
  assert.deepEqual(asked[0].params, { sessionID: "ses_b", model: { providerID: "mock", modelID: "m1" } });
});

test("balancing leaves the session alone when the sidecar keeps its model", async (t) => {
  const s = await started(t, { results: { "chat.message": { model: { providerID: "mock", modelID: "m1" } } } });
  await modelRequest(s.fake, "ses_b");
  await s.fake.trigger("prompt", { sessionID: "ses_b", messageID: "msg_1", prompt: { text: "hi" } });
  assert.equal(fakeCalls(s.log, "chat.message").length, 1);
  assert.deepEqual(s.fake.calls.switchModel, []);
});

test("a session whose model is unknown is not moved with balancing off (the sidecar would answer its selected model)", async (t) => {
  const s = await started(t, { results: { "balancing.get": { enabled: false }, "chat.message": { model: { providerID: "other", modelID: "m2" } } } });
  await s.fake.trigger("prompt", { sessionID: "ses_new", messageID: "msg_1", prompt: { text: "hi" } });
  assert.equal(fakeCalls(s.log, "chat.message").length, 0);
  assert.deepEqual(s.fake.calls.switchModel, []);
});

test("a new session with balancing on gets the sidecar's model for its first message", async (t) => {
  const s = await started(t, { results: { "balancing.get": { enabled: true }, "chat.message": { model: { providerID: "other", modelID: "m2" } } } });
  await s.fake.trigger("prompt", { sessionID: "ses_new", messageID: "msg_1", prompt: { text: "hi" } });
  assert.deepEqual(fakeCalls(s.log, "chat.message")[0].params, { sessionID: "ses_new" });
  assert.deepEqual(s.fake.calls.switchModel, [{ sessionID: "ses_new", model: { providerID: "other", id: "m2" } }]);
});

test("V2 switching a provider's account by itself is said and deferred to", async (t) => {
  const s = await started(t);
  s.fake.emit({ type: "credential.switched", data: { integrationID: "mock", credentialID: "cred_b" } });
  s.fake.emit({ type: "credential.updated", data: {} });
  assert.equal(s.side.logs.filter((l) => l.includes("switched mock to credential cred_b by itself")).length, 1);
  assert.ok(s.side.toasts.some((x) => x.message.includes("cred_b")));
  assert.deepEqual(s.fake.calls.activate, [], "the balancer does not switch back");
});

test("log lines never carry a credential", () => {
  const line = redact("Headers.set: 'Bearer fake-key-alpha-0001' is invalid; x-api-key sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123");
  assert.doesNotMatch(line, /fake-key-alpha-0001|abcdefghijklmnop/);
  assert.equal(redact("could not move the request to other (bad body)"), "could not move the request to other (bad body)");
});

test("the debug log of either host never carries a credential (V1's fetch patch writes through the same note)", () => {
  const written = [];
  const write = process.stderr.write;
  process.stderr.write = (chunk) => written.push(String(chunk)) > 0;
  try {
    const header = 'Headers.append: "Bearer sk-FAKE-abcdefghijklmnopqrstuvwx" is an invalid header value.';
    Runtime.prototype.note.call({ settings: { debug: true } }, `could not prepare a marked request (${header}); sending it as is`);
  } finally {
    process.stderr.write = write;
  }
  assert.equal(written.length, 1);
  assert.doesNotMatch(written[0], /abcdefghijklmnop/);
  assert.match(written[0], /could not prepare a marked request/);
});

test("a V2 hook's log line starts no sidecar (a CLI process that only hears an event stays without one)", () => {
  const before = globalThis[RUNTIME_KEY];
  const deps = runtimeDeps({ binary: "/nonexistent/opencode-balancer" });
  deps.log("credential.switched: mock to cred_b");
  assert.equal(globalThis[RUNTIME_KEY], before, "no runtime acquired for a log line");
});
