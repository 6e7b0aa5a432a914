// The plugin against the fake sidecar (normal, crash, hang, garbage) and a
// loopback HTTP server: node --test plugin/test/

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import plugin, { server } from "../index.js";
import {
  FAST,
  MARKER,
  BINARY_JS_PATH,
  captureConsoleError,
  fakeCalls,
  fakeClient,
  fakeSidecar,
  fakeStarts,
  headersInput,
  keyedResponder,
  loopback,
  removeDir,
  tempDir,
  waitFor,
  warnings,
} from "./helpers.mjs";

const ACCOUNTS = { mock: ["key-a", "key-b"] };

/** Builds the hooks with a fake client; everything is undone when the test ends. */
async function setup(t, { config, options = {}, client: clientOptions, respond } = {}) {
  const dir = tempDir();
  const fetchBefore = globalThis.fetch;
  const consoleErr = captureConsoleError();
  let fake = null;
  if (typeof config === "function") config = config(dir);
  if (config !== undefined) fake = fakeSidecar(dir, config);
  const { client, calls } = fakeClient(clientOptions);
  const hooks = await server(
    { client, directory: dir, worktree: dir, project: { id: "p" } },
    { ...FAST, ...(fake ? { binary: fake.binary } : {}), ...options },
  );
  const http = respond ? await loopback(respond) : null;
  t.after(async () => {
    await hooks.dispose?.();
    consoleErr.restore();
    await http?.close();
    assert.equal(globalThis.fetch, fetchBefore, "dispose restores globalThis.fetch");
    delete process.env.FAKE_SIDECAR_CONFIG;
    removeDir(dir);
  });
  return { dir, hooks, client, calls, http, log: fake?.log, consoleErr };
}

async function markedHeaders(hooks, providerID = "mock") {
  const output = { headers: {} };
  await hooks["chat.headers"](headersInput(providerID), output);
  return output.headers;
}

test("exports, the install marker line, the command and the tool", async (t) => {
  assert.equal(plugin.id, "opencode-balancer");
  assert.equal(plugin.server, server);
  const source = readFileSync(BINARY_JS_PATH, "utf8");
  assert.ok(
    source.split("\n").includes("const INSTALLED_BINARY = null; // replaced by opencode-balancer install"),
    "the exact line `opencode-balancer install` replaces",
  );
  const { hooks } = await setup(t, { config: {} });
  const mine = { command: { balancer: { template: "mine" }, other: { template: "x" } } };
  await hooks.config(mine);
  assert.equal(mine.command.balancer.template, "mine", "a user's own /balancer is kept");
  assert.equal(mine.command.other.template, "x");
  assert.equal(mine.skills, undefined, "and no balancer skill beside it");
  const tool = hooks.tool.balancer_command;
  assert.equal(typeof tool.description, "string");
  assert.equal(tool.args.text.type, "string");
  assert.equal(typeof tool.execute, "function");
});

test("the balancer command is a skill opencode leaves out of the slash list and denies the model", async (t) => {
  const { hooks } = await setup(t, { config: {} });
  const cfg = { skills: { paths: ["/theirs"] }, permission: { skill: "ask", bash: "allow" } };
  await hooks.config(cfg);
  assert.equal(cfg.command, undefined, "no config command: it would be listed (two Enters, a second entry)");
  assert.equal(cfg.skills.paths.length, 2);
  assert.equal(cfg.skills.paths[0], "/theirs");
  const skill = readFileSync(join(cfg.skills.paths[1], "balancer", "SKILL.md"), "utf8");
  assert.match(skill, /^---\nname: balancer\ndescription: opencode-balancer: .*\n---\n/);
  assert.deepEqual(cfg.permission, { skill: { "*": "ask", balancer: "deny" }, bash: "allow" }, "the user's rules kept");
  // Config is read again on every instance: the same folder, added once.
  await hooks.config(cfg);
  assert.equal(cfg.skills.paths.length, 2);
  const bare = {};
  await hooks.config(bare);
  assert.deepEqual(bare.permission, { skill: { balancer: "deny" } });
  assert.deepEqual(bare.skills.paths, [cfg.skills.paths[1]]);
});

test("429 on key A then 200 on key B: the same request is re-sent as B", async (t) => {
  const { hooks, http, log } = await setup(t, { config: { accounts: ACCOUNTS }, respond: keyedResponder() });
  const headers = await markedHeaders(hooks);
  assert.match(headers[MARKER], /^req-/);
  const res = await fetch(`${http.url}/v1/chat/completions`, {
    method: "POST",
    headers: { ...headers, Authorization: "Bearer opencode-own-key", "content-type": "application/json" },
    body: JSON.stringify({ model: "m1", messages: [{ role: "user", content: "hi" }] }),
  });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "ok key-b");

  assert.equal(http.requests.length, 2);
  assert.deepEqual(
    http.requests.map((r) => r.headers.authorization),
    ["Bearer key-a", "Bearer key-b"],
  );
  for (const r of http.requests) {
    assert.equal(r.headers[MARKER], undefined, "the marker header never leaves the process");
    assert.equal(r.headers["content-type"], "application/json");
    assert.equal(r.body.toString(), JSON.stringify({ model: "m1", messages: [{ role: "user", content: "hi" }] }));
  }

  const [begin] = fakeCalls(log, "fetch.begin");
  assert.equal(begin.params.requestID, headers[MARKER]);
  assert.equal(begin.params.method, "POST");
  assert.equal(begin.params.url, `${http.url}/v1/chat/completions`);
  assert.equal(begin.params.authorization, "bearer");
  assert.ok(begin.params.headerNames.includes("authorization"));
  assert.ok(begin.params.headerNames.includes("content-type"));
  assert.ok(!begin.params.headerNames.includes(MARKER));
  assert.ok(begin.params.headerNames.every((h) => h === h.toLowerCase()));

  // The 2xx is told without waiting (a notification): wait for it to reach the fake sidecar.
  await waitFor(() => fakeCalls(log, "fetch.result").length >= 2, 5000, "the 2xx notification");
  const results = fakeCalls(log, "fetch.result").map((m) => m.params);
  assert.equal(results.length, 2);
  assert.equal(results[0].attempt, 1);
  assert.equal(results[0].status, 429);
  assert.equal(results[0].headers["retry-after"], "7");
  assert.equal(results[0].headers["x-ratelimit-remaining-requests"], "0");
  assert.equal(results[0].headers["anthropic-ratelimit-requests-remaining"], "0");
  assert.equal(results[0].headers["x-unrelated"], undefined);
  assert.match(results[0].body, /rate limited for key-a/);
  assert.equal(results[1].attempt, 2);
  assert.equal(results[1].status, 200);
  assert.equal(results[1].body, undefined, "no body for a 2xx");
});

test("an API-key header is replaced case-insensitively, not duplicated", async (t) => {
  const { hooks, http } = await setup(t, { config: { accounts: ACCOUNTS }, respond: keyedResponder() });
  const headers = await markedHeaders(hooks);
  const res = await fetch(`${http.url}/v1/messages`, {
    method: "POST",
    headers: { ...headers, "X-Api-Key": "opencode-own-key" },
    body: "{}",
  });
  assert.equal(res.status, 200);
  assert.deepEqual(
    http.requests.map((r) => r.headers["x-api-key"]),
    ["key-a", "key-b"],
  );
  assert.equal(http.requests[0].headers.authorization, undefined);
});

test("request bodies of every kind survive a re-send intact", async (t) => {
  const { hooks, http } = await setup(t, { config: { accounts: ACCOUNTS }, respond: keyedResponder() });
  const bytes = new Uint8Array(70_000).map((_, i) => (i * 7) % 256);
  const streamOf = (chunks) =>
    new ReadableStream({
      start(controller) {
        for (const c of chunks) controller.enqueue(new TextEncoder().encode(c));
        controller.close();
      },
    });
  const form = () => {
    const f = new FormData();
    f.append("purpose", "test");
    f.append("file", new Blob(["file-content-é"], { type: "text/plain" }), "a.txt");
    return f;
  };
  const cases = [
    { kind: "string", body: () => '{"text":"héllo"}', expect: Buffer.from('{"text":"héllo"}') },
    { kind: "Uint8Array", body: () => bytes, expect: Buffer.from(bytes) },
    { kind: "ArrayBuffer", body: () => bytes.slice().buffer, expect: Buffer.from(bytes) },
    { kind: "DataView", body: () => new DataView(bytes.slice().buffer, 10, 100), expect: Buffer.from(bytes.subarray(10, 110)) },
    { kind: "Blob", body: () => new Blob(["blob-", "content"], { type: "application/x-test" }), expect: Buffer.from("blob-content"), type: "application/x-test" },
    { kind: "URLSearchParams", body: () => new URLSearchParams({ a: "1", b: "two words" }), expect: Buffer.from("a=1&b=two+words"), type: /^application\/x-www-form-urlencoded/ },
    { kind: "FormData", body: form, contains: ["file-content-é", 'name="purpose"', "test"], type: /^multipart\/form-data; ?boundary=/ },
    { kind: "ReadableStream", body: () => streamOf(["chunk-1,", "chunk-2"]), expect: Buffer.from("chunk-1,chunk-2"), duplex: true },
  ];
  for (const c of cases) {
    const before = http.requests.length;
    const headers = await markedHeaders(hooks);
    const init = { method: "POST", headers: { ...headers, authorization: "Bearer x" }, body: c.body() };
    if (c.duplex) init.duplex = "half";
    const res = await fetch(`${http.url}/upload/${c.kind}`, init);
    assert.equal(res.status, 200, c.kind);
    const [first, second] = http.requests.slice(before);
    assert.ok(first && second, `${c.kind}: sent twice`);
    assert.equal(first.headers.authorization, "Bearer key-a");
    assert.equal(second.headers.authorization, "Bearer key-b");
    assert.ok(first.body.equals(second.body), `${c.kind}: the re-sent body equals the first`);
    assert.equal(first.headers["content-type"], second.headers["content-type"], `${c.kind}: same content-type`);
    if (c.expect) assert.ok(first.body.equals(c.expect), `${c.kind}: body intact`);
    for (const s of c.contains ?? []) assert.ok(first.body.toString().includes(s), `${c.kind}: has ${s}`);
    if (c.type instanceof RegExp) assert.match(first.headers["content-type"], c.type, c.kind);
    else if (c.type) assert.equal(first.headers["content-type"], c.type, c.kind);
    if (c.kind === "FormData") {
      const boundary = first.headers["content-type"].split("boundary=")[1];
      assert.ok(first.body.toString().includes(boundary), "the boundary in the header matches the body");
    }
  }

  // A Request object as the input, with its own body and the marker in its headers.
  for (const kind of ["Request", "Request+init"]) {
    const before = http.requests.length;
    const headers = await markedHeaders(hooks);
    const req = new Request(`${http.url}/upload/${kind}`, {
      method: "POST",
      headers: { ...headers, authorization: "Bearer x", "content-type": "application/json" },
      body: '{"from":"request"}',
    });
    const res = kind === "Request" ? await fetch(req) : await fetch(req, { headers: { ...headers, authorization: "Bearer y", "content-type": "application/json" } });
    assert.equal(res.status, 200, kind);
    const [first, second] = http.requests.slice(before);
    assert.equal(first.headers.authorization, "Bearer key-a", kind);
    assert.equal(second.headers.authorization, "Bearer key-b", kind);
    assert.equal(first.body.toString(), '{"from":"request"}', kind);
    assert.ok(first.body.equals(second.body), kind);
    assert.equal(first.headers[MARKER], undefined, kind);
  }
});

test("requests without the marker are not touched and not reported", async (t) => {
  const { http, log } = await setup(t, { config: { accounts: ACCOUNTS }, respond: keyedResponder() });
  const res = await fetch(`${http.url}/plain`, { headers: { authorization: "Bearer key-a" } });
  assert.equal(res.status, 429, "a 429 without the marker is returned as is");
  assert.equal(http.requests.length, 1);
  assert.equal(fakeCalls(log, "fetch.begin").length, 0);
  assert.equal(fakeCalls(log, "fetch.result").length, 0);
});

test("a provider the sidecar does not manage gets no marker", async (t) => {
  const { hooks } = await setup(t, { config: { accounts: ACCOUNTS } });
  const headers = await markedHeaders(hooks, "openai");
  assert.deepEqual(headers, {});
});

test("a non-2xx body is reported up to 4 KiB and the response stays readable", async (t) => {
  const big = "x".repeat(10_000) + "END";
  const { hooks, http, log } = await setup(t, {
    config: { accounts: { mock: ["key-a"] } },
    respond: () => ({ status: 503, headers: { "content-type": "text/plain", "retry-after": "3" }, body: big }),
  });
  const headers = await markedHeaders(hooks);
  const res = await fetch(`${http.url}/x`, { method: "POST", headers, body: "{}" });
  assert.equal(res.status, 503);
  assert.equal(await res.text(), big, "the caller still reads the whole body");
  const [result] = fakeCalls(log, "fetch.result");
  assert.equal(result.params.body.length, 4096);
  assert.equal(result.params.headers["retry-after"], "3");
  assert.equal(http.requests.length, 1, "one account: no retry");
});

test("removeHeaders drops the original account's headers at begin and on a retry", async (t) => {
  const { hooks, http } = await setup(t, {
    config: {
      accounts: ACCOUNTS,
      removeHeaders: { begin: ["x-openai-internal-codex-residency"], retry: ["chatgpt-account-id"] },
    },
    respond: keyedResponder(),
  });
  const headers = {
    ...(await markedHeaders(hooks)),
    authorization: "Bearer key-a",
    "chatgpt-account-id": "acct-FAKE-original",
    "x-openai-internal-codex-residency": "eu",
  };
  const res = await fetch(`${http.url}/x`, { method: "POST", headers, body: "{}" });
  assert.equal(res.status, 200);
  const [first, second] = http.requests;
  assert.equal(first.headers["x-openai-internal-codex-residency"], undefined, "removed at fetch.begin");
  assert.equal(first.headers["chatgpt-account-id"], "acct-FAKE-original");
  assert.equal(second.headers.authorization, "Bearer key-b");
  assert.equal(second.headers["chatgpt-account-id"], undefined, "removed on the retry");
});

test("a removeHeaders that is not a list of names is a bad answer", async (t) => {
  const { hooks, http } = await setup(t, {
    config: { accounts: ACCOUNTS, results: { "fetch.begin": { setHeaders: {}, removeHeaders: "authorization" } } },
    respond: () => ({ status: 200, body: "ok" }),
  });
  const headers = { ...(await markedHeaders(hooks)), authorization: "Bearer key-a" };
  const res = await fetch(`${http.url}/x`, { method: "POST", headers, body: "{}" });
  assert.equal(res.status, 200);
  assert.equal(http.requests[0].headers.authorization, "Bearer key-a", "sent as it was");
});

test("a sidecar that keeps answering retry is stopped at 10 attempts", async (t) => {
  const { hooks, http } = await setup(t, {
    config: { accounts: ACCOUNTS, results: { "fetch.result": { action: "retry", setHeaders: { authorization: "Bearer key-a" } } } },
    respond: keyedResponder(),
  });
  const headers = await markedHeaders(hooks);
  const res = await fetch(`${http.url}/x`, { method: "POST", headers, body: "{}" });
  assert.equal(res.status, 429);
  assert.equal(http.requests.length, 10);
});

test("out-of-order answers are matched by id; chat.message applies the model", async (t) => {
  const { hooks } = await setup(t, {
    config: {
      accounts: ACCOUNTS,
      delays: { "chat.headers": 250 },
      results: { "chat.message": { model: { providerID: "other", modelID: "m2" } } },
    },
    options: { timeoutMs: 2000 },
  });
  const output = { headers: {} };
  const message = { id: "msg_1", role: "user", model: { providerID: "mock", modelID: "m1", variant: "high" } };
  let headersDone = false;
  const slow = hooks["chat.headers"](headersInput(), output).then(() => {
    headersDone = true;
  });
  await hooks["chat.message"]({ sessionID: "ses_test", model: { providerID: "mock", modelID: "m1" } }, { message, parts: [] });
  assert.equal(headersDone, false, "chat.message answered while chat.headers still waits");
  assert.deepEqual(message.model, { providerID: "other", modelID: "m2" }, "variant dropped with the model change");
  await slow;
  assert.match(output.headers[MARKER], /^req-/);
});

test("chat.message without a model in the answer leaves opencode's choice alone", async (t) => {
  const { hooks, log } = await setup(t, { config: {} });
  const message = { model: { providerID: "mock", modelID: "m1", variant: "high" } };
  await hooks["chat.message"]({ sessionID: "s" }, { message, parts: [] });
  assert.deepEqual(message.model, { providerID: "mock", modelID: "m1", variant: "high" });
  const [call] = fakeCalls(log, "chat.message");
  assert.deepEqual(call.params, { sessionID: "s" }, "no model sent when the host chose none");
});

test("chat.headers applies syncAuth through client.auth.set before returning", async (t) => {
  const auth = { type: "oauth", refresh: "r", access: "a", expires: 1 };
  const { hooks, calls } = await setup(t, {
    config: { accounts: ACCOUNTS, syncAuth: { providerID: "mock", auth } },
    client: { authDelayMs: 100 },
  });
  await markedHeaders(hooks);
  assert.deepEqual(calls.auth, [{ path: { id: "mock" }, body: auth }]);
});

test("notifications: toast and auth.sync reach the client", async (t) => {
  const auth = { type: "api", key: "k" };
  const { calls } = await setup(t, {
    config: {
      notifyOnInit: [
        { method: "toast", params: { message: "hello from the sidecar", variant: "success" } },
        { method: "auth.sync", params: { providerID: "mock", auth } },
        { method: "event", params: { id: "1", type: "account_saved", message: "m", createdAt: 1, metadata: {} } },
      ],
    },
  });
  await waitFor(() => calls.toasts.length >= 1 && calls.auth.length >= 1, 3000, "notifications");
  assert.equal(calls.toasts[0].body.message, "hello from the sidecar");
  assert.equal(calls.toasts[0].body.variant, "success");
  assert.deepEqual(calls.auth[0], { path: { id: "mock" }, body: auth });
});

for (const fail of ["throw", "reject", "error"]) {
  test(`client failures (${fail}) are ignored quietly`, async (t) => {
    let unhandled = 0;
    const onUnhandled = () => unhandled++;
    process.on("unhandledRejection", onUnhandled);
    t.after(() => process.off("unhandledRejection", onUnhandled));
    const { hooks, http, calls } = await setup(t, {
      config: {
        accounts: ACCOUNTS,
        syncAuth: { providerID: "mock", auth: { type: "api", key: "k" } },
        notifyOnInit: [
          { method: "toast", params: { message: "hi", variant: "info" } },
          { method: "auth.sync", params: { providerID: "mock", auth: { type: "api", key: "k" } } },
        ],
      },
      client: { fail },
      respond: keyedResponder(),
    });
    await waitFor(() => calls.toasts.length >= 1, 3000, "toast");
    const headers = await markedHeaders(hooks);
    const res = await fetch(`${http.url}/x`, { method: "POST", headers, body: "{}" });
    assert.equal(res.status, 200);
    // Its answer cannot be stored: a toast, and the command is stopped before any model request.
    const parts = [{ type: "text", text: "list" }];
    await assert.rejects(hooks["command.execute.before"]({ command: "balancer", sessionID: "s", arguments: "list" }, { parts }), {
      name: "BalancerCommandHandled",
    });
    assert.deepEqual(parts, [{ type: "text", text: "list" }], "nothing for the model in its place");
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(unhandled, 0);
  });
}

/** What opencode 1.18.33 does around command.execute.before: the hook, then the command's message through chat.message. */
async function runCommand(hooks, sessionID, args) {
  const parts = [{ type: "text", text: args }];
  await hooks["command.execute.before"]({ command: "balancer", sessionID, arguments: args }, { parts });
  const message = {
    id: "msg_cmd",
    role: "user",
    sessionID,
    time: { created: 1000 },
    agent: "build",
    model: { providerID: "mock", modelID: "m1" },
  };
  const output = { message, parts: parts.map((p, i) => ({ ...p, id: `prt_${i}`, messageID: "msg_cmd", sessionID })) };
  await hooks["chat.message"]({ sessionID, agent: "build", model: { providerID: "mock", modelID: "m1" } }, output);
  return output;
}

test("plain /balancer in the TUI opens the dashboard and answers in the session without a model request", async (t) => {
  const { hooks, calls } = await setup(t, { config: { id: "fake-1" } });
  const { message, parts } = await runCommand(hooks, "ses_1", "  ");
  assert.deepEqual(calls.published, [
    { body: { type: "tui.command.execute", properties: { command: "balancer.open" } } },
  ]);
  assert.equal(calls.prompts[0].body.parts[0].text, "/balancer", "the question, as typed");
  assert.equal(message.role, "assistant");
  assert.equal(message.parentID, "msg_q1");
  assert.match(parts[0].text, /Opened the Balancer dashboard/);
});

test("/balancer list becomes the finished assistant answer to a noReply question, so opencode asks no model", async (t) => {
  const { hooks, calls, log } = await setup(t, { config: { id: "fake-1" } });
  const { message, parts } = await runCommand(hooks, "ses_1", "  list ");
  assert.deepEqual(fakeCalls(log, "command.run")[0].params, { text: "list" });
  // The question: a user message that asks for no reply, holding what was typed (not printed by `opencode run`).
  assert.equal(calls.prompts.length, 1);
  const prompt = calls.prompts[0];
  assert.equal(prompt.path.id, "ses_1");
  assert.equal(prompt.body.noReply, true);
  assert.deepEqual(prompt.body.parts, [{ type: "text", text: "/balancer list" }]);
  // The command's own message: the finished answer to it (opencode's loop then ends without a model call).
  assert.equal(message.role, "assistant");
  assert.equal(message.parentID, "msg_q1");
  assert.equal(message.finish, "stop");
  assert.equal(message.id, "msg_cmd");
  assert.equal(message.providerID, "mock");
  assert.equal(message.modelID, "m1");
  assert.equal(message.model, undefined, "no user-message fields left");
  assert.equal(typeof message.time.completed, "number");
  assert.deepEqual(message.tokens, { input: 0, output: 0, reasoning: 0, cache: { read: 0, write: 0 } });
  assert.equal(parts.length, 1);
  assert.equal(parts[0].text, "fake-1: list\nmock/alpha\nmock/bravo");
  assert.equal(parts[0].id, "prt_0");
  assert.ok(parts[0].time.end, "finished, so `opencode run` prints it");
  assert.equal(fakeCalls(log, "chat.message").length, 0, "the answer is not a turn to balance");
  assert.equal(calls.toasts.length, 0, "the answer is in the session, no toast");
});

test("a message that is not a /balancer answer stays a user message; other commands are left alone", async (t) => {
  const { hooks, calls } = await setup(t, { config: { id: "fake-1" } });
  const message = { id: "m", role: "user", time: { created: 1 }, agent: "build", model: { providerID: "mock", modelID: "m1" } };
  const parts = [{ type: "text", text: "/balancer list", metadata: { other: "msg_q1" } }];
  await hooks["chat.message"]({ sessionID: "ses_1" }, { message, parts });
  assert.equal(message.role, "user");
  assert.equal(parts[0].time, undefined);

  // Other commands are none of its business.
  const other = { parts: [{ type: "text", text: "x" }] };
  await hooks["command.execute.before"]({ command: "init", sessionID: "ses_1", arguments: "" }, other);
  assert.deepEqual(other.parts, [{ type: "text", text: "x" }]);
  assert.equal(calls.prompts.length, 0);
});

test("the balancer_command tool returns command.run's output", async (t) => {
  const { hooks } = await setup(t, { config: { id: "fake-2" } });
  const out = await hooks.tool.balancer_command.execute({ text: "status" }, { sessionID: "s" });
  assert.equal(out, "fake-2: status\nmock/alpha\nmock/bravo");
});

test("binary missing: everything passes through, one warning", async (t) => {
  const { hooks, http, calls, consoleErr } = await setup(t, {
    options: { binary: "/nonexistent/opencode-balancer" },
    respond: keyedResponder(),
  });
  const headers = await markedHeaders(hooks);
  assert.deepEqual(headers, {}, "no marker without a sidecar");
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${http.url}/x`, {
      method: "POST",
      headers: { [MARKER]: "req-manual", authorization: "Bearer key-a" },
      body: "{}",
    });
    assert.equal(res.status, 429);
  }
  assert.equal(http.requests.length, 3);
  for (const r of http.requests) {
    assert.equal(r.headers[MARKER], undefined);
    assert.equal(r.headers.authorization, "Bearer key-a", "credentials untouched");
  }
  const msg = { model: { providerID: "mock", modelID: "m1" } };
  await hooks["chat.message"]({ sessionID: "s" }, { message: msg, parts: [] });
  assert.deepEqual(msg.model, { providerID: "mock", modelID: "m1" });
  const out = await hooks.tool.balancer_command.execute({ text: "list" });
  assert.match(out, /unavailable/);
  await new Promise((r) => setTimeout(r, 300)); // a few restart attempts
  assert.equal(warnings(calls).length, 1, "one toast per outage");
  assert.match(warnings(calls)[0].body.message, /not found|missing/);
  assert.equal(consoleErr.lines.length, 1, "one console.error per outage");
  assert.match(consoleErr.lines[0], /\/nonexistent\/opencode-balancer/);
});

test("a hung sidecar: calls time out, requests pass through, one warning, it is restarted", async (t) => {
  const { hooks, http, calls, consoleErr, log } = await setup(t, {
    config: { mode: "hang", accounts: ACCOUNTS },
    options: { timeoutMs: 200, startGraceMs: 1000 },
    respond: keyedResponder(),
  });
  const started = Date.now();
  const headers = await markedHeaders(hooks);
  assert.deepEqual(headers, {});
  assert.ok(Date.now() - started < 1500, "chat.headers gave up after its timeout");
  for (let i = 0; i < 3; i++) {
    const t0 = Date.now();
    const res = await fetch(`${http.url}/x`, {
      method: "POST",
      headers: { [MARKER]: "req-manual", authorization: "Bearer key-b" },
      body: "{}",
    });
    assert.equal(res.status, 200);
    assert.ok(Date.now() - t0 < 1500);
  }
  assert.equal(http.requests.length, 3);
  assert.ok(http.requests.every((r) => r.headers[MARKER] === undefined));
  await waitFor(() => fakeStarts(log).length >= 2, 3000, "a restart of the hung sidecar");
  assert.equal(warnings(calls).length, 1);
  assert.equal(consoleErr.lines.length, 1);
  assert.match(consoleErr.lines[0], /did not answer/);
});

test("a slow start is not an outage: calls pass through quietly until it answers", async (t) => {
  const { hooks, calls, consoleErr } = await setup(t, {
    config: { accounts: ACCOUNTS, startDelayMs: 500 },
    options: { timeoutMs: 300, startGraceMs: 8000 },
  });
  assert.deepEqual(await markedHeaders(hooks), {}, "too early: no marker");
  await waitFor(async () => (await markedHeaders(hooks))[MARKER], 7000, "the sidecar to answer");
  assert.deepEqual(warnings(calls).map((t) => t.body?.message), [], "no warning toast");
  assert.deepEqual(consoleErr.lines, []);
});

test("a sidecar that never answers initialize within the start grace is restarted", async (t) => {
  const { calls, log, consoleErr } = await setup(t, {
    config: { mode: "hang", on: "initialize" },
    options: { startGraceMs: 300 },
  });
  await waitFor(() => fakeStarts(log).length >= 2, 3000, "a restart");
  assert.equal(warnings(calls).length, 1);
  assert.match(consoleErr.lines[0], /did not answer initialize within 300 ms/);
});

test("garbage on stdout: requests pass through, one warning", async (t) => {
  const { hooks, http, calls, consoleErr, log } = await setup(t, {
    config: { mode: "garbage", accounts: ACCOUNTS },
    respond: keyedResponder(),
  });
  const headers = await markedHeaders(hooks);
  assert.deepEqual(headers, {});
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${http.url}/x`, {
      method: "POST",
      headers: { [MARKER]: "req-manual", authorization: "Bearer key-b" },
      body: "{}",
    });
    assert.equal(res.status, 200);
  }
  assert.ok(http.requests.every((r) => r.headers[MARKER] === undefined && r.headers.authorization === "Bearer key-b"));
  await waitFor(() => fakeStarts(log).length >= 2, 3000, "a restart after garbage");
  assert.equal(warnings(calls).length, 1);
  assert.equal(consoleErr.lines.length, 1);
  assert.match(consoleErr.lines[0], /not JSON/);
});

test("well-formed answers of the wrong shape: passthrough, one warning", async (t) => {
  const { hooks, http, calls } = await setup(t, {
    config: { mode: "bad-result", on: "fetch.begin", accounts: ACCOUNTS },
    respond: keyedResponder(),
  });
  for (let i = 0; i < 2; i++) {
    const headers = await markedHeaders(hooks);
    assert.match(headers[MARKER], /^req-/);
    const res = await fetch(`${http.url}/x`, { method: "POST", headers: { ...headers, authorization: "Bearer key-b" }, body: "{}" });
    assert.equal(res.status, 200);
  }
  assert.ok(http.requests.every((r) => r.headers.authorization === "Bearer key-b" && r.headers[MARKER] === undefined));
  // Each valid chat.headers answer ends the outage, so each bad fetch.begin
  // starts a new one; the warn interval is what keeps this from being noisy.
  assert.ok(warnings(calls).length >= 1);
  assert.match(warnings(calls)[0].body.message, /unexpected answer to fetch\.begin/);
});

test("the warn interval keeps repeated outages to one warning", async (t) => {
  const { hooks, http, calls } = await setup(t, {
    config: { mode: "bad-result", on: "fetch.begin", accounts: ACCOUNTS },
    options: { warnIntervalMs: 60_000 },
    respond: keyedResponder(),
  });
  for (let i = 0; i < 3; i++) {
    const headers = await markedHeaders(hooks);
    await fetch(`${http.url}/x`, { method: "POST", headers, body: "{}" });
  }
  assert.equal(warnings(calls).length, 1);
});

test("a request in flight when the sidecar dies completes; the sidecar is restarted", async (t) => {
  const { hooks, http, calls, log } = await setup(t, {
    // Only the first fetch.result crashes it; the restarted fake behaves.
    config: (dir) => ({ mode: "crash", on: "fetch.result", onceFile: join(dir, "crashed"), accounts: ACCOUNTS }),
    respond: keyedResponder(),
  });
  const headers = await markedHeaders(hooks);
  const res = await fetch(`${http.url}/x`, { method: "POST", headers: { ...headers, authorization: "Bearer x" }, body: "{}" });
  assert.equal(res.status, 429, "the response of the attempt in flight is returned");
  assert.match(await res.text(), /rate limited for key-a/, "and its body is intact");
  assert.equal(warnings(calls).length, 1);
  assert.match(warnings(calls)[0].body.message, /exited with code 3/);

  await waitFor(() => fakeStarts(log).length >= 2, 3000, "the restart");
  const again = await markedHeaders(hooks);
  assert.match(again[MARKER], /^req-/);
  const res2 = await fetch(`${http.url}/x`, { method: "POST", headers: { ...again, authorization: "Bearer x" }, body: "{}" });
  assert.equal(res2.status, 200, "failover works again after the restart");
  assert.equal(await res2.text(), "ok key-b");
  assert.equal(warnings(calls).length, 1);
});

test("a sidecar that dies at once is restarted with a growing delay", async (t) => {
  const { log, calls } = await setup(t, {
    config: { mode: "exit-on-start" },
    options: { restartDelayMs: 40, maxRestartDelayMs: 160 },
  });
  await waitFor(() => fakeStarts(log).length >= 4, 5000, "four starts");
  const starts = fakeStarts(log).map((s) => s.at);
  const gaps = starts.slice(1).map((at, i) => at - starts[i]);
  // Delays 40, 80, 160, 160 … on top of each start's own time: never a hot loop.
  assert.ok(gaps.every((g) => g >= 35), `gaps ${gaps}`);
  assert.ok(gaps[2] >= 150, `the third delay is capped at 160, not shorter: gaps ${gaps}`);
  assert.equal(warnings(calls).length, 1);
});

test("dispose restores fetch and stops the sidecar", async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const original = globalThis.fetch;
  const { binary, log } = fakeSidecar(dir, {});
  const { client } = fakeClient();
  const hooks = await server({ client }, { ...FAST, binary });
  assert.notEqual(globalThis.fetch, original, "fetch is patched");
  await waitFor(() => fakeStarts(log).length === 1, 3000, "the start");
  const pid = fakeStarts(log)[0].started;
  await hooks.dispose();
  assert.equal(globalThis.fetch, original);
  await waitFor(
    () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    },
    3000,
    "the sidecar to exit",
  );
  await hooks.dispose(); // twice is harmless
  delete process.env.FAKE_SIDECAR_CONFIG;
});

test("two instances share one sidecar; the last dispose releases it", async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const original = globalThis.fetch;
  const { binary, log } = fakeSidecar(dir, {});
  const a = await server({ client: fakeClient().client }, { ...FAST, binary });
  const b = await server({ client: fakeClient().client }, { ...FAST, binary });
  await a.tool.balancer_command.execute({ text: "x" });
  await b.tool.balancer_command.execute({ text: "y" });
  assert.equal(fakeStarts(log).length, 1);
  await a.dispose();
  assert.notEqual(globalThis.fetch, original, "still patched for the other instance");
  assert.match(await b.tool.balancer_command.execute({ text: "z" }), /z/);
  await b.dispose();
  assert.equal(globalThis.fetch, original);
  delete process.env.FAKE_SIDECAR_CONFIG;
});

test("OPENCODE_BALANCER_DISABLE=1 loads a plugin that does nothing", async () => {
  const original = globalThis.fetch;
  process.env.OPENCODE_BALANCER_DISABLE = "1";
  try {
    const hooks = await server({ client: fakeClient().client }, {});
    assert.deepEqual(hooks, {});
    assert.equal(globalThis.fetch, original);
  } finally {
    delete process.env.OPENCODE_BALANCER_DISABLE;
  }
});

test("the sidecar's coloured last log line is shown without terminal escapes", async (t) => {
  const { hooks, http, calls } = await setup(t, {
    config: (dir) => ({
      mode: "crash",
      on: "fetch.result",
      onceFile: join(dir, "crashed"),
      accounts: ACCOUNTS,
      stderr: "\u001b[2m2026-12-01T00:00:00Z\u001b[0m \u001b[31mERROR\u001b[0m store \u001b[1mbroken\u001b[0m",
    }),
    respond: keyedResponder(),
  });
  const headers = await markedHeaders(hooks);
  await fetch(`${http.url}/x`, { method: "POST", headers: { ...headers, authorization: "Bearer x" }, body: "{}" });
  await waitFor(() => warnings(calls).length >= 1, 3000, "the warning");
  const message = warnings(calls)[0].body.message;
  assert.match(message, /its last log line: 2026-12-01T00:00:00Z ERROR store broken/);
  assert.doesNotMatch(message, /\u001b/);
});
