// Keeping a turn going, without opencode: the plugin carries out the sidecar's `switch` (resend
// to another provider: URL, credential, model, body) and `fail` (a final answer at once, and the
// message sent again where the host allows it). node --test plugin/test/

import { test } from "node:test";
import assert from "node:assert/strict";

import { server } from "../index.js";
import { FAST, MARKER, fakeCalls, fakeClient, fakeSidecar, headersInput, loopback, removeDir, tempDir, waitFor } from "./helpers.mjs";

const ACCOUNTS = { mock: ["key-a"] };

async function setup(t, { config, options = {}, respond }) {
  const dir = tempDir();
  const fetchBefore = globalThis.fetch;
  const http = respond ? await loopback(respond) : null;
  const fake = fakeSidecar(dir, typeof config === "function" ? config(http) : config);
  const { client, calls } = fakeClient();
  const hooks = await server({ client, directory: dir, worktree: dir, project: { id: "p" } }, { ...FAST, binary: fake.binary, ...options });
  t.after(async () => {
    await hooks.dispose?.();
    await http?.close();
    assert.equal(globalThis.fetch, fetchBefore);
    delete process.env.FAKE_SIDECAR_CONFIG;
    removeDir(dir);
  });
  return { hooks, calls, http, log: fake.log };
}

async function marked(hooks, sessionID = "ses_test") {
  const output = { headers: {} };
  await hooks["chat.headers"](headersInput("mock", sessionID), output);
  return output.headers;
}

/** /a/… refuses (429, Retry-After: 120); /b/… answers with what it received. */
function twoProviders(req) {
  if (req.url.startsWith("/a/")) {
    return {
      status: 429,
      headers: { "content-type": "application/json", "retry-after": "120" },
      body: JSON.stringify({ error: { message: "Rate limit reached", type: "requests" } }),
    };
  }
  return { status: 200, headers: { "content-type": "text/plain" }, body: "answer from b" };
}

const BODY = { model: "m1", reasoning_effort: "high", messages: [{ role: "user", content: "hi" }], stream: true };

function send(http, headers) {
  return fetch(`${http.url}/a/v1/chat/completions`, {
    method: "POST",
    headers: {
      ...headers,
      Authorization: "Bearer opencode-own-key",
      "OpenAI-Organization": "org-first-FAKE",
      "content-type": "application/json",
    },
    body: JSON.stringify(BODY),
  });
}

function switchTo(url) {
  return {
    action: "switch",
    account: { providerID: "other", alias: "bravo" },
    modelID: "m2",
    url,
    setHeaders: { authorization: "Bearer key-b-FAKE" },
    removeHeaders: ["openai-organization", "chatgpt-account-id"],
    body: { set: { model: "m2" }, remove: ["reasoning_effort", "previous_response_id"] },
  };
}

test("switch: the refused request is re-sent to the other provider's URL with its key, model and body", async (t) => {
  const p = await setup(t, {
    config: (http) => ({
      accounts: ACCOUNTS,
      sequence: { "fetch.result": [switchTo(`${http.url}/b/v1/chat/completions`), { action: "return" }] },
    }),
    respond: twoProviders,
  });
  const headers = await marked(p.hooks);
  const res = await send(p.http, headers);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "answer from b", "opencode gets the other provider's answer");
  const [first, second] = p.http.requests;
  assert.equal(p.http.requests.length, 2);
  assert.equal(first.url, "/a/v1/chat/completions");
  assert.equal(second.url, "/b/v1/chat/completions");
  assert.equal(second.headers.authorization, "Bearer key-b-FAKE");
  assert.equal(second.headers["openai-organization"], undefined, "the first account's header is gone");
  assert.equal(second.headers[MARKER], undefined);
  assert.equal(second.headers["content-type"], "application/json");
  const body = JSON.parse(second.body.toString());
  assert.deepEqual(body, { model: "m2", messages: BODY.messages, stream: true });
  // The 2xx is a notification: the fake logs it when it reads it, after opencode has its answer.
  await waitFor(() => fakeCalls(p.log, "fetch.result").length >= 2, 5000, "the 2xx notification");
  const results = fakeCalls(p.log, "fetch.result").map((m) => m.params);
  assert.deepEqual(
    results.map((r) => [r.attempt, r.status]),
    [
      [1, 429],
      [2, 200],
    ],
  );
});

test("switch with stripState: the moved body goes to continuity.strip after the switch's own edit, and the sidecar's bytes go out", async (t) => {
  const edited = '{"model":"m2","messages":[{"role":"user","content":"hi"}],"stream":true,"edited":1}';
  const p = await setup(t, {
    config: (http) => ({
      accounts: ACCOUNTS,
      sequence: {
        "fetch.result": [{ ...switchTo(`${http.url}/b/v1/chat/completions`), stripState: { scope: "provider-move" } }, { action: "return" }],
        "continuity.strip": [{ body: edited, removed: 2 }],
      },
    }),
    respond: twoProviders,
  });
  const res = await send(p.http, await marked(p.hooks));
  assert.equal(await res.text(), "answer from b");
  const [first, second] = p.http.requests;
  assert.equal(first.body.toString(), JSON.stringify(BODY), "the first attempt goes out as opencode wrote it");
  assert.equal(second.body.toString(), edited, "the sidecar's bytes");
  assert.equal(second.headers["content-length"], String(Buffer.byteLength(edited)));
  const [strip] = fakeCalls(p.log, "continuity.strip").map((m) => m.params);
  assert.equal(strip.scope, "provider-move");
  assert.equal(strip.url, `${p.http.url}/b/v1/chat/completions`);
  assert.deepEqual(JSON.parse(strip.body), { model: "m2", messages: BODY.messages, stream: true }, "after the switch's own edit");
});

test("retry with stripState: no edited body in the answer, or no answer at all, sends the body as it was", async (t) => {
  for (const strip of [{ removed: 0 }, "hang"]) {
    const p = await setup(t, {
      config: {
        accounts: { mock: ["key-a", "key-b"] },
        sequence: {
          "fetch.result": [{ action: "retry", account: { providerID: "mock", alias: "b" }, setHeaders: { authorization: "Bearer key-b" }, stripState: { scope: "same-provider" } }, { action: "return" }],
          ...(strip === "hang" ? {} : { "continuity.strip": [strip] }),
        },
        ...(strip === "hang" ? { delays: { "continuity.strip": 60_000 } } : {}),
      },
      options: { timeoutMs: 300 },
      respond: (req) => (req.headers.authorization === "Bearer key-b" ? { status: 200, body: "b" } : twoProviders(req)),
    });
    const res = await send(p.http, await marked(p.hooks));
    assert.equal(await res.text(), "b", JSON.stringify(strip));
    assert.deepEqual(
      p.http.requests.map((r) => r.body.toString()),
      [JSON.stringify(BODY), JSON.stringify(BODY)],
      `both attempts carry opencode's bytes (${JSON.stringify(strip)})`,
    );
    await p.hooks.dispose();
  }
});

test("fail from fetch.result: opencode gets a plain 400 with the sidecar's message at once", async (t) => {
  const message = "opencode-balancer: every account of mock is resting (alpha until 14:05 UTC (in 2 min)).";
  const { hooks, http, calls } = await setup(t, {
    config: { accounts: ACCOUNTS, results: { "fetch.result": { action: "fail", status: 400, message } } },
    options: { resubmit: false },
    respond: twoProviders,
  });
  const res = await send(http, await marked(hooks));
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.equal(body.error.message, message);
  assert.equal(body.error.type, "invalid_request_error");
  assert.equal(http.requests.length, 1, "nothing is sent again");
  assert.equal(calls.promptAsyncs.length, 0);
});

test("fail from fetch.begin: nothing is sent to the dry provider", async (t) => {
  const message = "opencode-balancer: every account of mock is resting.";
  const { hooks, http } = await setup(t, {
    config: { accounts: ACCOUNTS, results: { "fetch.begin": { action: "fail", status: 400, message, passthrough: true } } },
    respond: twoProviders,
  });
  const res = await send(http, await marked(hooks));
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error.message, message);
  assert.equal(http.requests.length, 0);
});

test("fail with resubmit where the host allows it: abort, then the message again on the new model", async (t) => {
  const resubmit = { sessionID: "ses_test", providerID: "other", modelID: "m2", message: "sent again on other/m2" };
  const { hooks, http, calls } = await setup(t, {
    config: {
      accounts: ACCOUNTS,
      results: { "fetch.result": { action: "fail", status: 400, message: "next message: other/m2", resubmit } },
    },
    options: { resubmit: true },
    respond: twoProviders,
  });
  const output = { message: { model: { providerID: "mock", modelID: "m1" } }, parts: [{ type: "text", text: "hi there", id: "p1" }] };
  await hooks["chat.message"]({ sessionID: "ses_test", model: { providerID: "mock", modelID: "m1" } }, output);
  const res = await send(http, await marked(hooks));
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error.message, "sent again on other/m2");
  await waitFor(() => calls.promptAsyncs.length === 1, 5000, "promptAsync");
  assert.deepEqual(calls.aborts, [{ path: { id: "ses_test" } }]);
  assert.deepEqual(calls.promptAsyncs[0], {
    path: { id: "ses_test" },
    body: { model: { providerID: "other", modelID: "m2" }, parts: [{ type: "text", text: "hi there" }] },
    abortedBefore: 1,
  });
});

test("the config's providers and each request's API are told to the sidecar", async (t) => {
  const { hooks, log } = await setup(t, { config: { accounts: ACCOUNTS } });
  await hooks.config({
    provider: {
      one: { npm: "@ai-sdk/openai-compatible", options: { baseURL: "http://127.0.0.1:1/v1" } },
      two: { npm: "@ai-sdk/anthropic" },
      bare: { name: "nothing known" },
    },
  });
  await marked(hooks);
  const [describe] = await waitFor(() => {
    const c = fakeCalls(log, "providers.describe");
    return c.length ? c : null;
  });
  assert.deepEqual(describe.params.providers, [
    { providerID: "one", npm: "@ai-sdk/openai-compatible", baseURL: "http://127.0.0.1:1/v1" },
    { providerID: "two", npm: "@ai-sdk/anthropic" },
  ]);
  const [headers] = fakeCalls(log, "chat.headers");
  assert.deepEqual(headers.params.api, { npm: "@ai-sdk/openai-compatible" });
});
