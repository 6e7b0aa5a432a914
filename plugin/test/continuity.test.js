// Conversations that outlive a failover (issue 29, docs/continuity.md), through the plugin and
// the real sidecar binary (OPENCODE_BALANCER_BIN, else target/release/opencode-balancer), with a
// loopback provider whose replayed state is bound to the key that produced it: Responses
// reasoning (`encrypted_content`) and Messages thinking signatures name their key, and a body
// replaying another key's state is refused with the 400 the real APIs give.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";

import { server } from "../index.js";
import { FAST, MARKER, captureConsoleError, fakeClient, headersInput, loopback, realBinary, seedAccounts, tempStoreEnv, waitFor } from "./helpers.mjs";

const key = (alias) => `test-key-${alias}-FAKE`;
/** provider → its accounts, the first active. */
const PROVIDERS = {
  rsp: ["r1", "r2"],
  own: ["o1", "o2"],
  mend: ["m1", "m2"],
  twice: ["t1", "t2"],
  sse: ["s1", "s2"],
  late: ["l1", "l2"],
};

let binary;
let env;
let store;
let http;
/** Keys that answer 429 (or, for streams, how each key answers): set per test. */
const limited = new Set();
/** Keys that refuse every body as replaying foreign reasoning. */
const alwaysBound = new Set();
let streams = {};
/** The `code` of the encrypted-content refusal: a string, or null (some answers carry none). */
let encryptedCode = "invalid_encrypted_content";

function json(status, value) {
  return { status, headers: { "content-type": "application/json" }, body: JSON.stringify(value) };
}

/** Which key's state a body replays: Responses reasoning, Messages thinking signatures. */
function replayedKeys(body) {
  const keys = [];
  for (const item of body.input ?? []) {
    if (item.type === "reasoning") keys.push(String(item.encrypted_content).split(":")[1]);
  }
  for (const m of body.messages ?? []) {
    for (const block of Array.isArray(m.content) ? m.content : []) {
      if (block.type === "thinking") keys.push(String(block.signature).split(":")[1]);
    }
  }
  return keys;
}

function provider(req) {
  const sent = String(req.headers.authorization ?? "").replace(/^Bearer\s+/i, "");
  if (limited.has(sent)) {
    return json(429, { error: { message: "Rate limit reached", type: "requests", code: "rate_limit_exceeded" } });
  }
  if (streams[sent]) return { status: 200, headers: { "content-type": "text/event-stream" }, body: streams[sent] };
  const body = JSON.parse(req.body.toString("utf8"));
  const foreign = alwaysBound.has(sent) || replayedKeys(body).some((k) => k !== sent);
  if (req.url.endsWith("/responses")) {
    if (foreign) {
      return json(400, {
        error: {
          message: "The encrypted content gAAA could not be verified. Reason: Encrypted content could not be decrypted or parsed.",
          type: "invalid_request_error",
          param: null,
          code: encryptedCode,
        },
      });
    }
    return json(200, { output: [{ type: "reasoning", encrypted_content: `enc:${sent}:x`, summary: [] }], answeredBy: sent });
  }
  if (foreign) {
    return json(400, {
      type: "error",
      error: { type: "invalid_request_error", message: "messages.1.content.0: Invalid `signature` in `thinking` block" },
    });
  }
  return json(200, { content: [{ type: "thinking", thinking: "t", signature: `sig:${sent}` }], answeredBy: sent });
}

before(async () => {
  binary = realBinary();
  env = tempStoreEnv("ocb-continuity-");
  store = env.store;
  http = await loopback(provider);
  await seedAccounts(binary, store, Object.fromEntries(Object.entries(PROVIDERS).map(([p, aliases]) => [p, aliases.map((a) => [a, key(a)])])));
});

after(async () => {
  await http?.close();
  env?.restore();
});

/** The plugin on the real sidecar, and the hot-path methods it calls from now on. */
async function plugin(t) {
  const quiet = captureConsoleError();
  const { client, calls: hostCalls } = fakeClient();
  const hooks = await server({ client }, { ...FAST, timeoutMs: 3000, commandTimeoutMs: 10_000, binary, store });
  const runtime = globalThis[Symbol.for("opencode-balancer.plugin.runtime")];
  const calls = [];
  const call = runtime.sidecar.call;
  runtime.sidecar.call = function (method, params, timeoutMs) {
    calls.push(method);
    return call.call(this, method, params, timeoutMs);
  };
  t.after(async () => {
    runtime.sidecar.call = call;
    limited.clear();
    alwaysBound.clear();
    streams = {};
    encryptedCode = "invalid_encrypted_content";
    await hooks.dispose();
    quiet.restore();
  });
  return { hooks, runtime, calls, hostCalls };
}

/** One turn of a session: chat.headers, then the request as opencode's SDK sends it. */
async function turn(hooks, providerID, sessionID, path, body) {
  const output = { headers: {} };
  await hooks["chat.headers"](headersInput(providerID, sessionID), output);
  assert.equal(typeof output.headers[MARKER], "string", `${providerID} is managed`);
  const before = http.requests.length;
  const text = JSON.stringify(body);
  const res = await fetch(`${http.url}${path}`, {
    method: "POST",
    headers: { ...output.headers, authorization: "Bearer opencode-own-key", "content-type": "application/json" },
    body: text,
  });
  const answer = await res.text();
  return { res, answer, text, seen: http.requests.slice(before) };
}

const who = (r) => String(r.headers.authorization).replace(/^Bearer\s+/i, "");

/** A Responses body as opencode 1.18 sends it for a gpt-5 model, replaying `reasoning` (the keys whose reasoning each earlier turn carries). */
function responsesBody(session, reasoning) {
  const input = [{ role: "user", content: [{ type: "input_text", text: "turn 1" }] }];
  reasoning.forEach((k, i) => {
    input.push({ type: "reasoning", encrypted_content: `enc:${k}:${i}`, summary: [] });
    input.push({ type: "function_call", call_id: `call_${i}`, name: "read", arguments: "{}" });
    input.push({ type: "function_call_output", call_id: `call_${i}`, output: "ok" });
    input.push({ role: "user", content: [{ type: "input_text", text: `turn ${i + 2}` }] });
  });
  return { model: "gpt-5", input, store: false, include: ["reasoning.encrypted_content"], prompt_cache_key: session, stream: false };
}

async function events(runtime, type, n = 1) {
  let found = [];
  await waitFor(
    async () => {
      found = (await runtime.call("events.list", { limit: 200 })).filter((e) => e.type === type);
      return found.length >= n;
    },
    5000,
    `${n} ${type} event(s)`,
  );
  return found;
}

async function account(runtime, providerID, alias) {
  const list = await runtime.call("accounts.list", { providerID });
  return list.find((a) => a.alias === alias);
}

test("a mid-conversation failover on the Responses API answers from the next account, and the next turn succeeds too", async (t) => {
  const { hooks, runtime, calls } = await plugin(t);
  const ses = "ses_cont_failover";
  const one = await turn(hooks, "rsp", ses, "/v1/responses", responsesBody(ses, []));
  assert.equal(JSON.parse(one.answer).answeredBy, key("r1"));

  limited.add(key("r1"));
  const two = await turn(hooks, "rsp", ses, "/v1/responses", responsesBody(ses, [key("r1")]));
  assert.equal(two.res.status, 200, two.answer);
  assert.equal(JSON.parse(two.answer).answeredBy, key("r2"), "r2 answered turn 2");
  assert.deepEqual(two.seen.map(who), [key("r1"), key("r2")]);
  assert.equal(two.seen[0].body.toString(), two.text, "turn 2 goes out on r1 as opencode sent it");
  const moved = JSON.parse(two.seen[1].body.toString());
  assert.equal(moved.input.filter((i) => i.type === "reasoning").length, 0, "r1's reasoning never reaches r2");
  assert.equal(moved.input.filter((i) => i.type?.startsWith("function_call")).length, 2, "the function call pair stays");
  assert.equal(moved.prompt_cache_key, ses);
  assert.equal(moved.store, false);
  assert.deepEqual(moved.include, ["reasoning.encrypted_content"]);
  assert.ok(calls.includes("continuity.strip"), "the sidecar edited the body");

  // Turn 3 replays r1's and r2's reasoning; r1 still rests, the conversation stays on r2 and is
  // edited the same way as turn 2 (so r2's prompt cache warms again).
  const three = await turn(hooks, "rsp", ses, "/v1/responses", responsesBody(ses, [key("r1"), key("r2")]));
  assert.equal(three.res.status, 200, three.answer);
  assert.deepEqual(three.seen.map(who), [key("r2")], "one request, on r2");
  const edited = JSON.parse(three.seen[0].body.toString());
  assert.equal(edited.input.filter((i) => i.type === "reasoning").length, 0);
  assert.equal(edited.input.length, 1 + 2 * 3, "every other item stays");
});

test("a request on the account that produced its state goes out byte for byte, with no sidecar call for the body", async (t) => {
  const { hooks, calls } = await plugin(t);
  const ses = "ses_cont_own";
  await turn(hooks, "own", ses, "/v1/responses", responsesBody(ses, []));
  const two = await turn(hooks, "own", ses, "/v1/responses", responsesBody(ses, [key("o1")]));
  assert.equal(two.res.status, 200);
  assert.deepEqual(two.seen.map(who), [key("o1")]);
  assert.ok(two.seen[0].body.equals(Buffer.from(two.text)), "the mock got opencode's exact bytes");
  assert.ok(!calls.includes("continuity.strip") && !calls.includes("fetch.stream"), `calls: ${calls}`);
});

for (const variant of [
  { name: "invalid_encrypted_content", path: "/v1/responses", code: "invalid_encrypted_content" },
  { name: "code null, 'could not be verified'", path: "/v1/responses", code: null },
  { name: "the thinking-signature 400 of the Messages API", path: "/v1/messages" },
]) {
  test(`the mend (${variant.name}): one extra request on the same account without the state, no cooldown`, async (t) => {
    const { hooks, runtime } = await plugin(t);
    encryptedCode = variant.code ?? null;
    const ses = `ses_cont_mend_${variant.path.length}_${variant.code}`;
    // A conversation the sidecar never saw answered (a restart, an old session): m2's state on m1.
    const body =
      variant.path === "/v1/messages"
        ? {
            model: "claude",
            messages: [
              { role: "user", content: "hi" },
              { role: "assistant", content: [{ type: "thinking", thinking: "t", signature: `sig:${key("m2")}` }, { type: "text", text: "a" }] },
              { role: "user", content: "again" },
            ],
          }
        : responsesBody(ses, [key("m2")]);
    const r = await turn(hooks, "mend", ses, variant.path, body);
    assert.equal(r.res.status, 200, r.answer);
    assert.deepEqual(r.seen.map(who), [key("m1"), key("m1")], "exactly one extra request, on the same account");
    assert.ok(!r.seen[1].body.toString().includes(key("m2")), "the resend carries none of m2's state");
    const m1 = await account(runtime, "mend", "m1");
    assert.equal(m1.coolingDownUntil, null, "no cooldown");
    assert.equal(m1.failures, 0);
    const mended = await events(runtime, "state_mended");
    assert.equal(mended.at(-1).alias, "m1");
    assert.equal((await runtime.call("events.list", { limit: 200 })).filter((e) => e.type === "auth_failed").length, 0);
  });
}

test("a second state-bound refusal of the same request goes back to opencode as it is (no second mend)", async (t) => {
  const { hooks, runtime } = await plugin(t);
  alwaysBound.add(key("t1"));
  const ses = "ses_cont_twice";
  const r = await turn(hooks, "twice", ses, "/v1/responses", responsesBody(ses, [key("t2")]));
  assert.equal(r.res.status, 400, "the second refusal is opencode's");
  assert.match(r.answer, /invalid_encrypted_content/);
  assert.deepEqual(r.seen.map(who), [key("t1"), key("t1")], "one mend, no failover");
  const t1 = await account(runtime, "twice", "t1");
  assert.equal(t1.coolingDownUntil, null);
  assert.equal(t1.failures, 0);
});

const SSE = (events) => events.map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`).join("");
const START = ["message_start", { type: "message_start", message: { id: "msg_1", role: "assistant", content: [] } }];
const PING = ["ping", { type: "ping" }];
const TEXT_START = ["content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }];
const delta = (text) => ["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text } }];
const STOP = ["message_stop", { type: "message_stop" }];

test("an error event first in a 200 stream fails over: the user gets the next account's stream", async (t) => {
  const { hooks, runtime } = await plugin(t);
  const good = SSE([START, TEXT_START, delta("from s2"), STOP]);
  streams = {
    [key("s1")]: SSE([START, PING, ["error", { type: "error", error: { type: "rate_limit_error", message: "Number of request tokens has exceeded your rate limit" } }]]),
    [key("s2")]: good,
  };
  const r = await turn(hooks, "sse", "ses_cont_sse", "/v1/messages", { model: "claude", stream: true, messages: [{ role: "user", content: "hi" }] });
  assert.equal(r.res.status, 200);
  assert.equal(r.answer, good, "exactly s2's stream");
  assert.deepEqual(r.seen.map(who), [key("s1"), key("s2")]);
  const refused = await events(runtime, "stream_refused");
  assert.equal(refused.at(-1).alias, "s1");
  const s1 = await account(runtime, "sse", "s1");
  assert.ok(typeof s1.coolingDownUntil === "number" && s1.coolingDownUntil > Date.now(), "s1 cools down like a 429");
});

test("an error event after content passes through untouched, with no second request", async (t) => {
  const { hooks, runtime, calls } = await plugin(t);
  const late = SSE([START, TEXT_START, delta("Hel"), ["error", { type: "error", error: { type: "overloaded_error", message: "Overloaded" } }]]);
  streams = { [key("l1")]: late, [key("l2")]: SSE([START, TEXT_START, delta("l2"), STOP]) };
  const r = await turn(hooks, "late", "ses_cont_late", "/v1/messages", { model: "claude", stream: true, messages: [{ role: "user", content: "hi" }] });
  assert.equal(r.res.status, 200);
  assert.equal(r.answer, late, "l1's stream as it came");
  assert.deepEqual(r.seen.map(who), [key("l1")]);
  assert.ok(!calls.includes("fetch.stream") && !calls.includes("fetch.result"), `calls: ${calls}`);
  assert.equal((await account(runtime, "late", "l1")).coolingDownUntil, null);
});
