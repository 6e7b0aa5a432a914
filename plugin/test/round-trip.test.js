// One round trip per answered request, against the fake sidecar and a loopback provider:
// chat.headers answers what fetch.begin would (`begin`), a request of the expected shape goes out
// with it, a 2xx is told as a notification; anything that may have changed the pick asks
// fetch.begin again. node --test plugin/test/

import { test } from "node:test";
import assert from "node:assert/strict";

import { server } from "../index.js";
import { FAST, MARKER, fakeClient, fakeLog, fakeSidecar, headersInput, keyedResponder, loopback, removeDir, tempDir, waitFor } from "./helpers.mjs";

const ACCOUNTS = { mock: ["key-a", "key-b"] };
const BODY = JSON.stringify({ model: "m1", messages: [{ role: "user", content: "hi" }] });

async function setup(t, { config = {}, respond = keyedResponder(), fetchImpl } = {}) {
  const dir = tempDir();
  const fetchBefore = globalThis.fetch;
  if (fetchImpl) globalThis.fetch = fetchImpl;
  const http = await loopback(respond);
  const fake = fakeSidecar(dir, { accounts: ACCOUNTS, prepareBegin: true, ...config });
  const { client } = fakeClient();
  const hooks = await server({ client, directory: dir, worktree: dir, project: { id: "p" } }, { ...FAST, binary: fake.binary });
  t.after(async () => {
    await hooks.dispose?.();
    await http.close();
    globalThis.fetch = fetchBefore;
    delete process.env.FAKE_SIDECAR_CONFIG;
    removeDir(dir);
  });
  return { hooks, http, log: fake.log };
}

async function marked(hooks, sessionID = "ses_test") {
  const output = { headers: {} };
  await hooks["chat.headers"](headersInput("mock", sessionID), output);
  return output.headers;
}

function post(http, headers, extra = {}, body = BODY) {
  return fetch(`${http.url}/v1/chat/completions`, {
    method: "POST",
    headers: { ...headers, authorization: "Bearer opencode-own-key", "content-type": "application/json", ...extra },
    body,
  });
}

/** What the fake received for a request id: [method, awaited?, params] in order (openings asked ahead apart: openings.test.js). */
function callsFor(log, requestID) {
  return fakeLog(log)
    .filter((m) => m.params?.requestID === requestID || (m.method === "chat.headers" && m.id !== undefined && m.params?.ahead !== true))
    .map((m) => [m.method, m.id !== undefined && m.id !== null, m.params]);
}

/** Waits until the fake has the 2xx result notification of `requestID`. */
function doneNotice(log, requestID) {
  return waitFor(
    () => fakeLog(log).find((m) => m.method === "fetch.result" && m.params?.requestID === requestID && m.id === undefined),
    5000,
    "the fetch.result notification",
  );
}

test("a 2xx costs one awaited call: chat.headers carries fetch.begin's answer, the result is a notification", async (t) => {
  const { hooks, http, log } = await setup(t, { respond: keyedResponder({}) });
  const headers = await marked(hooks);
  const id = headers[MARKER];
  const res = await post(http, headers);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "ok key-a");
  assert.equal(http.requests[0].headers.authorization, "Bearer key-a");
  assert.equal(http.requests[0].headers[MARKER], undefined);
  const done = await doneNotice(log, id);
  assert.deepEqual([done.params.attempt, done.params.status, done.params.body], [1, 200, undefined]);
  // The opening asked ahead after the 2xx is a call nobody awaits (openings.test.js).
  const awaited = fakeLog(log).filter((m) => m.method && m.id !== undefined && m.method !== "initialize" && m.params?.ahead !== true);
  assert.deepEqual(
    awaited.map((m) => m.method),
    ["chat.headers"],
    "the only awaited call of the request is chat.headers",
  );
  assert.deepEqual(awaited[0].params.fetch, { headerNames: ["authorization"], authorization: "bearer" });
});

test("a request whose credential headers are not the expected ones asks fetch.begin; the next one is expected so", async (t) => {
  const { hooks, http, log } = await setup(t, { respond: keyedResponder({}) });
  const first = await marked(hooks);
  // No authorization header but an x-api-key: the held bearer answer does not fit it.
  const res = await fetch(`${http.url}/v1/messages`, {
    method: "POST",
    headers: { ...first, "x-api-key": "opencode-own-key", "content-type": "application/json" },
    body: BODY,
  });
  assert.equal(res.status, 200);
  assert.equal(http.requests[0].headers["x-api-key"], "key-a");
  assert.equal(http.requests[0].headers.authorization, undefined, "no bearer added next to the key");
  const begins = fakeLog(log).filter((m) => m.method === "fetch.begin");
  assert.equal(begins.length, 1);
  assert.equal(begins[0].params.requestID, first[MARKER]);

  const second = await marked(hooks, "ses_two");
  const [, , expectParams] = callsFor(log, second[MARKER]).filter(([m]) => m === "chat.headers").at(-1);
  assert.ok(expectParams.fetch.headerNames.includes("x-api-key"), "the provider's last request shape is expected");
  assert.equal(expectParams.fetch.authorization, undefined);
  await fetch(`${http.url}/v1/messages`, {
    method: "POST",
    headers: { ...second, "x-api-key": "opencode-own-key", "content-type": "application/json" },
    body: BODY,
  });
  assert.equal(http.requests[1].headers["x-api-key"], "key-a");
  assert.equal(fakeLog(log).filter((m) => m.method === "fetch.begin").length, 1, "the second request needs no fetch.begin");
});

test("an event about the provider between chat.headers and the fetch makes the request ask fetch.begin", async (t) => {
  const event = { type: "rate_limit_detected", providerID: "mock", alias: "account-0", message: "cooling down" };
  const { hooks, http, log } = await setup(t, {
    config: { notifyAfter: { "chat.headers": [{ method: "event", params: event }] } },
    respond: keyedResponder({}),
  });
  const headers = await marked(hooks);
  await post(http, headers);
  const begins = fakeLog(log).filter((m) => m.method === "fetch.begin");
  assert.equal(begins.length, 1, "the held answer was not used");
  assert.equal(begins[0].params.requestID, headers[MARKER]);
});

test("an event about another provider leaves the held answer good", async (t) => {
  const event = { type: "rate_limit_detected", providerID: "elsewhere", alias: "x", message: "cooling down" };
  const { hooks, http, log } = await setup(t, {
    config: { notifyAfter: { "chat.headers": [{ method: "event", params: event }] } },
    respond: keyedResponder({}),
  });
  await post(http, await marked(hooks));
  assert.equal(fakeLog(log).filter((m) => m.method === "fetch.begin").length, 0);
});

test("a store changed by another process makes a held answer ask fetch.begin", async (t) => {
  const { hooks, http, log } = await setup(t, {
    config: { notifyAfter: { "chat.headers": [{ method: "store.changed", params: {} }] } },
    respond: keyedResponder({}),
  });
  await post(http, await marked(hooks));
  assert.equal(fakeLog(log).filter((m) => m.method === "fetch.begin").length, 1);
});

test("two requests held at once: a refusal on the first makes the second ask fetch.begin", async (t) => {
  const { hooks, http, log } = await setup(t, { respond: keyedResponder({ "key-a": 429 }) });
  const one = await marked(hooks, "ses_one");
  const two = await marked(hooks, "ses_two");
  const first = await post(http, one);
  assert.equal(await first.text(), "ok key-b", "the refused request failed over");
  const begins = () => fakeLog(log).filter((m) => m.method === "fetch.begin");
  assert.equal(begins().length, 0, "the first went out with its held answer");
  await post(http, two);
  assert.deepEqual(
    begins().map((m) => m.params.requestID),
    [two[MARKER]],
    "the second asked again: its held account was just refused",
  );
});

test("429 on a request sent with its held answer: awaited, with what was sent, then re-sent as B", async (t) => {
  const { hooks, http, log } = await setup(t, { respond: keyedResponder({ "key-a": 429 }) });
  const headers = await marked(hooks);
  const res = await post(http, headers);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "ok key-b");
  assert.deepEqual(
    http.requests.map((r) => r.headers.authorization),
    ["Bearer key-a", "Bearer key-b"],
  );
  assert.ok(http.requests[1].body.equals(http.requests[0].body), "the same body again");
  await doneNotice(log, headers[MARKER]);
  const calls = callsFor(log, headers[MARKER]);
  assert.deepEqual(
    calls.map(([m, awaited, p]) => [m, awaited, p.attempt ?? null, p.status ?? null]),
    [
      ["chat.headers", true, null, null],
      ["fetch.result", true, 1, 429],
      ["fetch.result", false, 2, 200],
    ],
  );
  const refused = calls[1][2];
  assert.equal(refused.sent.url, `${http.url}/v1/chat/completions`);
  assert.equal(refused.sent.authorization, "bearer");
  assert.ok(refused.sent.headerNames.includes("authorization") && refused.sent.headerNames.includes("content-type"));
  assert.match(refused.body, /rate limited for key-a/);
});

test("a string or bytes body is handed to fetch as the same object, on the first send and on a retry", async (t) => {
  const realFetch = globalThis.fetch;
  const seen = [];
  const spy = (input, init) => {
    seen.push(init?.body);
    return realFetch(input, init);
  };
  const { hooks, http } = await setup(t, { respond: keyedResponder({ "key-a": 429 }), fetchImpl: spy });
  const text = BODY;
  await (await post(http, await marked(hooks, "ses_s"), {}, text)).text();
  assert.equal(seen.length, 2);
  assert.ok(seen.every((b) => b === text), "the same string both times");
  const bytes = new TextEncoder().encode(BODY);
  seen.length = 0;
  await (await post(http, await marked(hooks, "ses_b"), {}, bytes)).text();
  assert.equal(seen.length, 2);
  assert.ok(seen.every((b) => b === bytes), "the same Uint8Array both times");
  assert.equal(http.requests.at(-1).body.toString(), BODY);
});

test("an older sidecar without begin: the request asks fetch.begin as before", async (t) => {
  const { hooks, http, log } = await setup(t, { config: { prepareBegin: false }, respond: keyedResponder({}) });
  const headers = await marked(hooks);
  const res = await post(http, headers);
  assert.equal(await res.text(), "ok key-a");
  const calls = callsFor(log, headers[MARKER]).map(([m, awaited]) => [m, awaited]);
  assert.deepEqual(calls.slice(0, 2), [
    ["chat.headers", true],
    ["fetch.begin", true],
  ]);
  await doneNotice(log, headers[MARKER]);
});

test("the same marked request sent again (an SDK's own retry) asks fetch.begin: a held answer is used once", async (t) => {
  const { hooks, http, log } = await setup(t, { respond: keyedResponder({}) });
  const headers = await marked(hooks);
  await (await post(http, headers)).text();
  await (await post(http, headers)).text();
  const calls = callsFor(log, headers[MARKER]).map(([m, awaited]) => [m, awaited]);
  assert.deepEqual(
    calls.filter(([m]) => m !== "fetch.result"),
    [
      ["chat.headers", true],
      ["fetch.begin", true],
    ],
  );
  assert.deepEqual(
    http.requests.map((r) => r.headers.authorization),
    ["Bearer key-a", "Bearer key-a"],
  );
});

test("a provider the sidecar does not manage: no request id, nothing held, the request goes out untouched", async (t) => {
  const { hooks, http, log } = await setup(t, { respond: keyedResponder({}) });
  const output = { headers: {} };
  await hooks["chat.headers"](headersInput("unmanaged"), output);
  assert.equal(output.headers[MARKER], undefined);
  const res = await post(http, output.headers);
  assert.equal(await res.text(), "ok opencode-own-key");
  assert.deepEqual(
    fakeLog(log).filter((m) => m.method && m.method !== "initialize").map((m) => m.method),
    ["chat.headers"],
  );
});
