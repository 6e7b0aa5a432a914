// Openings asked ahead (plugin/openings.js) against the real sidecar binary (OPENCODE_BALANCER_BIN,
// else target/release/opencode-balancer) and a loopback provider: a conversation's next request
// and a turn's first request await no sidecar call, and a held opening is used once, only while
// nothing may have changed its pick, and records nothing unless used. node --test plugin/test/

import { test, before, after } from "node:test";
import assert from "node:assert/strict";

import { server } from "../index.js";
import { FAST, MARKER, captureConsoleError, fakeClient, headersInput, loopback, realBinary, seedAccounts, tempStoreEnv, waitFor } from "./helpers.mjs";

const PROVIDERS = ["p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"];
const key = (provider, alias) => `test-key-${provider}-${alias}-FAKE`;
/** Keys answered 429 (Retry-After 120) instead of 200. */
const refusing = new Set();

let binary;
let env;
let http;

before(async () => {
  binary = realBinary();
  env = tempStoreEnv("ocb-openings-");
  http = await loopback((req) => {
    const k = String(req.headers.authorization ?? "").replace(/^Bearer\s+/i, "");
    if (refusing.has(k)) return { status: 429, headers: { "content-type": "application/json", "retry-after": "120" }, body: '{"error":{"message":"Rate limit reached","type":"requests"}}' };
    return { status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify({ key: k }) };
  });
  await seedAccounts(binary, env.store, Object.fromEntries(PROVIDERS.map((p) => [p, [["a", key(p, "a")], ["b", key(p, "b")]]])));
});

after(async () => {
  await http?.close();
  env?.restore();
});

async function plugin(t) {
  const quiet = captureConsoleError();
  const { client } = fakeClient();
  const hooks = await server({ client }, { ...FAST, timeoutMs: 3000, binary, store: env.store });
  const runtime = globalThis[Symbol.for("opencode-balancer.plugin.runtime")];
  // Every call the plugin makes on the wire: [method, params].
  const wire = [];
  const call = runtime.sidecar.call;
  runtime.sidecar.call = function (method, params, timeoutMs) {
    wire.push([method, params]);
    return call.call(this, method, params, timeoutMs);
  };
  const events = [];
  const onNotification = runtime.onNotification;
  runtime.onNotification = function (method, params) {
    onNotification.call(this, method, params);
    if (method === "event") events.push(params);
  };
  t.after(async () => {
    await hooks.dispose();
    quiet.restore();
  });
  return { hooks, runtime, wire, events };
}

/** The `chat.headers` hook of `session` on `provider`: its marker, and the calls it put on the wire (openings asked ahead, awaited by nobody, apart). */
async function hook(p, provider, session) {
  const from = p.wire.length;
  const output = { headers: {} };
  await p.hooks["chat.headers"](headersInput(provider, session), output);
  return { id: output.headers[MARKER], calls: p.wire.slice(from).filter(([, params]) => params?.ahead !== true) };
}

function send(id) {
  return fetch(`${http.url}/v1/chat/completions`, {
    method: "POST",
    headers: { [MARKER]: id, authorization: "Bearer opencode-own-key", "content-type": "application/json" },
    body: JSON.stringify({ model: "m1", messages: [{ role: "user", content: "hi" }] }),
  });
}

/** The opening held for `session`, once its answer is in. */
async function heldOpening(runtime, session) {
  const entry = await waitFor(() => runtime.openings.get(session), 5000, `an opening asked for ${session}`);
  if (entry.pending) await entry.pending;
  assert.equal(typeof entry.requestID, "string", "the sidecar answered the opening");
  return entry;
}

async function message(p, provider, session) {
  await p.hooks["chat.message"]({ sessionID: session, model: { providerID: provider, modelID: "m1" } }, { message: {}, parts: [] });
}

/** A full request of `session`: hook, fetch, answer read; what went out as. */
async function turn(p, provider, session) {
  const h = await hook(p, provider, session);
  const res = await send(h.id);
  const body = await res.json();
  return { ...h, status: res.status, key: body.key };
}

test("a turn's first request and a conversation's later requests await no sidecar call", async (t) => {
  const p = await plugin(t);
  // The provider's api is told once by an earlier request (a new provider asks as before).
  await turn(p, "p1", "ses_warm");
  await message(p, "p1", "ses_1");
  const ahead = await heldOpening(p.runtime, "ses_1");
  const first = await turn(p, "p1", "ses_1");
  assert.deepEqual(first.calls, [], "the turn's first request: nothing on the wire at its hook");
  assert.equal(first.id, ahead.requestID);
  assert.equal(first.key, key("p1", "a"));
  await heldOpening(p.runtime, "ses_1");
  for (let i = 0; i < 3; i++) {
    const later = await turn(p, "p1", "ses_1");
    assert.deepEqual(later.calls, [], `request ${i + 2}: nothing on the wire at its hook`);
    assert.equal(later.key, key("p1", "a"));
    await heldOpening(p.runtime, "ses_1");
  }
  const awaited = p.wire.filter(([m, params]) => ["chat.headers", "fetch.begin", "fetch.result"].includes(m) && params?.ahead !== true);
  assert.equal(awaited.length, 1, `only ses_warm's chat.headers: ${JSON.stringify(awaited.map(([m]) => m))}`);
  const session = await p.runtime.call("session.get", { sessionID: "ses_1" });
  assert.equal(session.alias, "a", "a used opening records the session's account");
});

test("two concurrent requests of one session: only one takes the held opening", async (t) => {
  const p = await plugin(t);
  await turn(p, "p2", "ses_2");
  const ahead = await heldOpening(p.runtime, "ses_2");
  const from = p.wire.length;
  const [x, y] = await Promise.all([hook(p, "p2", "ses_2"), hook(p, "p2", "ses_2")]);
  assert.notEqual(x.id, y.id);
  assert.equal([x, y].filter((h) => h.id === ahead.requestID).length, 1, "used once");
  assert.deepEqual(p.wire.slice(from).filter(([, params]) => !params?.ahead).map(([m]) => m), ["chat.headers"], "the other asks");
  const answers = await Promise.all([send(x.id), send(y.id)]);
  assert.deepEqual(answers.map((r) => r.status), [200, 200]);
});

test("a cooldown told after the opening was asked: the request asks again and goes out on the other account", async (t) => {
  const p = await plugin(t);
  await turn(p, "p3", "ses_3");
  const ahead = await heldOpening(p.runtime, "ses_3");
  assert.equal(ahead.begin.account.alias, "a");
  // Another session's request is refused on a: a rests, the event reaches the plugin.
  refusing.add(key("p3", "a"));
  t.after(() => refusing.delete(key("p3", "a")));
  const other = await turn(p, "p3", "ses_3_other");
  assert.equal(other.key, key("p3", "b"));
  await waitFor(() => p.events.find((e) => e.type === "rate_limit_detected" && e.providerID === "p3"), 5000, "the cooldown event");
  const next = await turn(p, "p3", "ses_3");
  assert.deepEqual(next.calls.map(([m]) => m), ["chat.headers"], "the held opening is not used");
  assert.deepEqual(next.calls[0][1].unused, [ahead.requestID], "and the sidecar is told it was dropped");
  assert.equal(next.key, key("p3", "b"));
});

test("an event between the hook and the fetch: the request asks fetch.begin and goes out on the other account", async (t) => {
  const p = await plugin(t);
  await turn(p, "p4", "ses_4");
  await heldOpening(p.runtime, "ses_4");
  const h = await hook(p, "p4", "ses_4");
  assert.deepEqual(h.calls, []);
  refusing.add(key("p4", "a"));
  t.after(() => refusing.delete(key("p4", "a")));
  await turn(p, "p4", "ses_4_other");
  await waitFor(() => p.events.find((e) => e.type === "rate_limit_detected" && e.providerID === "p4"), 5000, "the cooldown event");
  const from = p.wire.length;
  const res = await send(h.id);
  assert.deepEqual(await res.json(), { key: key("p4", "b") });
  assert.deepEqual(p.wire.slice(from).filter(([, params]) => !params?.ahead).slice(0, 1).map(([m]) => m), ["fetch.begin"]);
});

test("an unused opening records nothing: the session's first real request owns it and goes out byte for byte", async (t) => {
  const p = await plugin(t);
  await turn(p, "p5", "ses_5_warm");
  await message(p, "p5", "ses_5");
  const ahead = await heldOpening(p.runtime, "ses_5");
  assert.equal(ahead.begin.account.alias, "a");
  assert.equal((await p.runtime.call("session.get", { sessionID: "ses_5" })).alias ?? null, null, "not sent: no account");
  // The user moves the provider to b before the request: the opening is stale.
  assert.match(await p.runtime.runCommand("use p5 b"), /b/);
  await waitFor(() => p.events.find((e) => e.type === "account_activated" && e.providerID === "p5"), 5000, "the activation event");
  const first = await turn(p, "p5", "ses_5");
  assert.equal(first.key, key("p5", "b"));
  assert.ok(!p.wire.some(([m]) => m === "continuity.strip"), "b is the session's first account: nothing to strip");
  const begun = first.calls.find(([m]) => m === "chat.headers");
  assert.equal(p.runtime.held.size, 0);
  assert.ok(begun, "asked at the hook");
});

test("an opening is used only within the validMs the sidecar gave (the plugin's clock stubbed)", async (t) => {
  const p = await plugin(t);
  await turn(p, "p6", "ses_6");
  let ahead = await heldOpening(p.runtime, "ses_6");
  assert.ok(ahead.until - ahead.at === 60_000, `validMs is the cap here: ${ahead.until - ahead.at}`);
  const now = p.runtime.now;
  t.after(() => {
    p.runtime.now = now;
  });
  // 59 s after the opening was asked (not after now: a loaded machine may take a second to get here).
  p.runtime.now = () => ahead.at + 59_000;
  const within = await turn(p, "p6", "ses_6");
  assert.deepEqual(within.calls, [], "59 s later: still good");
  ahead = await heldOpening(p.runtime, "ses_6");
  p.runtime.now = () => ahead.until;
  const past = await turn(p, "p6", "ses_6");
  assert.deepEqual(past.calls.map(([m]) => m), ["chat.headers"], "at validMs: asked again");
  assert.equal(past.status, 200);
});

test("a sidecar restart drops the held openings", async (t) => {
  const p = await plugin(t);
  await turn(p, "p7", "ses_7");
  const ahead = await heldOpening(p.runtime, "ses_7");
  const gen = p.runtime.sidecar.current;
  gen.child.kill("SIGKILL");
  await waitFor(() => p.runtime.sidecar.current && p.runtime.sidecar.current !== gen, 10_000, "a new sidecar");
  const next = await turn(p, "p7", "ses_7");
  assert.notEqual(next.id, ahead.requestID);
  assert.equal(next.calls.filter(([m, params]) => m === "chat.headers" && !params.ahead).length, 1);
  assert.ok(!(next.calls[0][1].unused ?? []).includes(ahead.requestID), "the new sidecar never knew it");
  assert.equal(next.status, 200);
});

test("a request on another provider does not wait for the opening held for the old one, which is told unused", async (t) => {
  const p = await plugin(t);
  await turn(p, "p8", "ses_warm8");
  await turn(p, "p9", "ses_warm9");
  await message(p, "p8", "ses_8");
  const held = p.runtime.openings.get("ses_8");
  assert.ok(held?.pending, "the opening for p8 is on its way");
  let stillOnItsWay = null;
  const call = p.runtime.sidecar.call;
  p.runtime.sidecar.call = function (method, params, timeoutMs) {
    if (method === "chat.headers" && !params?.ahead && stillOnItsWay === null) stillOnItsWay = held.pending !== null;
    return call.call(this, method, params, timeoutMs);
  };
  t.after(() => {
    p.runtime.sidecar.call = call;
  });
  const moved = await turn(p, "p9", "ses_8");
  assert.equal(stillOnItsWay, true, "the request asked before the p8 opening was answered");
  assert.equal(moved.key, key("p9", "a"));
  await waitFor(() => !held.pending, 5000, "the p8 opening answered");
  await hook(p, "p9", "ses_8");
  const told = p.wire.some(([m, params]) => m === "chat.headers" && params?.unused?.includes(held.requestID));
  assert.ok(told, "the dropped opening is named unused with a later chat.headers");
});
