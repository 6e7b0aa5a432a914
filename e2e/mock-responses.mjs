//! A loopback OpenAI Responses API mock whose encrypted reasoning is bound to the API key that issued it, for the continuity e2e.
//
//   node e2e/mock-responses.mjs --port-file FILE --log FILE [--script FILE]
//
// Listens on 127.0.0.1 only (a port the system picks, written to --port-file). `POST …/responses`
// with `authorization: Bearer test-key-<name>-FAKE` (any other key → 401):
//   - a request whose `input[]` replays a `reasoning` item another key's answer produced → 400 with
//     the body OpenAI sends for it (`invalid_encrypted_content`; `"code": null` when the key's
//     script says `codeNull`);
//   - the key's script says `refuse` (from its `refuseFrom`-th request on, default the first) →
//     429 `rate_limit_exceeded` with `Retry-After: <retryAfter, default 120>`;
//   - the key's script says `refuseToolOutput` and the request carries a `function_call_output`
//     → the same 429 (a refusal in the middle of a tool loop);
//   - else 200, the stream the real API sends for a reasoning model: response.created,
//     response.in_progress, a `reasoning` output item (a summary streamed, `encrypted_content` on
//     the item), a `message` item whose text is streamed as output_text deltas,
//     response.completed. When the request offers a `balancer_command` tool, its last user text
//     asks for "the balancer tool" and it carries no tool output yet, the item after the
//     reasoning is a `function_call` of `balancer_command {"text":"list"}` instead. The answer
//     is "Mock Responses answer via <name>." and the encrypted reasoning is `gAAAA-fake-<tag>-<serial>`, `<tag>` an HMAC of the key under a secret of this
//     process: only that key's requests may replay it.
// --script is a JSON file `{"<name>": {"refuse": true, "refuseFrom": 2, "retryAfter": 120,
// "codeNull": false, "refuseToolOutput": false}}`, re-read on every request (the test flips a
// key between turns).
// Every request appends one JSON line to --log (never a key):
//   {"n":3, "name":"bravo", "status":400, "reply":"foreign-reasoning"|"answer"|"tool-call"|"refused"|…,
//    "reasoning":2, "reasoningFrom":["alpha","bravo"], "foreign":["alpha"], "itemIds":0,
//    "previousResponseId":false, "functionCalls":0, "functionCallOutputs":0, "tools":[…],
//    "store":false,
//    "include":["reasoning.encrypted_content"], "promptCacheKey":true, "bodyBytes":…,
//    "bodySha256":"…", "model":"gpt-5.5", "stream":true, "lastUser":"…", "at":ms}
// `reasoningFrom` names the key that issued each replayed reasoning item ("unknown" when it is
// not one of ours). No dependencies.

import { createHmac, randomBytes } from "node:crypto";
import { arg, bearer, json, keyName, logTo, scriptFor, serve, sha256, sse, words } from "./mock-common.mjs";

const log = logTo(arg("--log"));
const scriptFile = arg("--script");
const SECRET = randomBytes(32);
/** tag → the name of the key it was issued for. */
const issuers = new Map();
/** name → requests seen for that key. */
const seen = new Map();
let requests = 0;
let serial = 0;

const tagOf = (key) => createHmac("sha256", SECRET).update(key).digest("hex").slice(0, 16);
const issuerOf = (encrypted) => issuers.get(/^gAAAA-fake-([0-9a-f]{16})-/.exec(String(encrypted ?? ""))?.[1]) ?? "unknown";

function issue(key, name) {
  const tag = tagOf(key);
  issuers.set(tag, name);
  serial += 1;
  return `gAAAA-fake-${tag}-${Buffer.from(JSON.stringify({ serial })).toString("base64url")}`;
}

/** What the request replays: reasoning items (and whose), item ids, function calls, the last user text. */
function inspect(parsed) {
  const input = Array.isArray(parsed?.input) ? parsed.input : [];
  const reasoning = input.filter((i) => i?.type === "reasoning");
  const users = input.filter((i) => i?.role === "user");
  const last = users.at(-1)?.content;
  const text = typeof last === "string" ? last : Array.isArray(last) ? last.map((c) => c?.text ?? "").join(" ") : "";
  return {
    reasoning: reasoning.length,
    reasoningFrom: reasoning.map((i) => issuerOf(i.encrypted_content)),
    itemIds: input.filter((i) => i?.id !== undefined).length,
    itemReferences: input.filter((i) => i?.type === "item_reference").length,
    previousResponseId: parsed?.previous_response_id != null,
    functionCalls: input.filter((i) => i?.type === "function_call").length,
    functionCallOutputs: input.filter((i) => i?.type === "function_call_output").length,
    tools: Array.isArray(parsed?.tools) ? parsed.tools.map((t) => t?.name ?? t?.type) : [],
    store: parsed?.store ?? null,
    include: parsed?.include ?? null,
    promptCacheKey: typeof parsed?.prompt_cache_key === "string",
    model: parsed?.model ?? null,
    stream: parsed?.stream ?? null,
    lastUser: text.slice(0, 80),
  };
}

function invalidEncryptedContent(res, encrypted, codeNull) {
  json(res, 400, {
    error: {
      message: `The encrypted content ${String(encrypted).slice(0, 12)}… could not be verified. Reason: Encrypted content could not be decrypted or parsed.`,
      type: "invalid_request_error",
      param: null,
      code: codeNull ? null : "invalid_encrypted_content",
    },
  });
}

function rateLimited(res, retryAfter) {
  json(
    res,
    429,
    {
      error: {
        message: `Rate limit reached for requests (mock). Please try again in ${retryAfter}s.`,
        type: "requests",
        param: null,
        code: "rate_limit_exceeded",
      },
    },
    { "retry-after": String(retryAfter), "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": `${retryAfter}s` },
  );
}

/** The output item after the reasoning: the answer's message, or a call of `balancer_command`. */
function outputItem(answer, call) {
  if (call) {
    const item = { id: `fc_mock_${serial}`, type: "function_call", status: "completed", call_id: `call_mock_${serial}`, name: "balancer_command", arguments: JSON.stringify({ text: "list" }) };
    return {
      item,
      events: [
        { type: "response.output_item.added", output_index: 1, item: { ...item, status: "in_progress", arguments: "" } },
        { type: "response.function_call_arguments.delta", item_id: item.id, output_index: 1, delta: item.arguments },
        { type: "response.function_call_arguments.done", item_id: item.id, output_index: 1, arguments: item.arguments },
        { type: "response.output_item.done", output_index: 1, item },
      ],
    };
  }
  const msg = `msg_mock_${serial}`;
  const item = { id: msg, type: "message", status: "completed", role: "assistant", content: [{ type: "output_text", text: answer, annotations: [] }] };
  return {
    item,
    events: [
      { type: "response.output_item.added", output_index: 1, item: { id: msg, type: "message", status: "in_progress", role: "assistant", content: [] } },
      { type: "response.content_part.added", item_id: msg, output_index: 1, content_index: 0, part: { type: "output_text", text: "", annotations: [] } },
      ...words(answer).map((delta) => ({ type: "response.output_text.delta", item_id: msg, output_index: 1, content_index: 0, delta, logprobs: [] })),
      { type: "response.output_text.done", item_id: msg, output_index: 1, content_index: 0, text: answer, logprobs: [] },
      { type: "response.content_part.done", item_id: msg, output_index: 1, content_index: 0, part: { type: "output_text", text: answer, annotations: [] } },
      { type: "response.output_item.done", output_index: 1, item },
    ],
  };
}

/** The events the real Responses API streams for a reasoning model's answer (or tool call), in its order. */
function answerEvents(model, answer, encrypted, call) {
  const id = `resp_mock_${serial}`;
  const created = Math.floor(Date.now() / 1000);
  const rs = `rs_mock_${serial}`;
  const summary = "Thinking about the answer (mock).";
  const reasoningItem = { id: rs, type: "reasoning", summary: [{ type: "summary_text", text: summary }], encrypted_content: encrypted };
  const out = outputItem(answer, call);
  const response = (status, extra = {}) => ({ id, object: "response", created_at: created, status, model, output: [], ...extra });
  const events = [
    { type: "response.created", response: response("in_progress") },
    { type: "response.in_progress", response: response("in_progress") },
    { type: "response.output_item.added", output_index: 0, item: { id: rs, type: "reasoning", summary: [], encrypted_content: encrypted } },
    { type: "response.reasoning_summary_part.added", item_id: rs, output_index: 0, summary_index: 0, part: { type: "summary_text", text: "" } },
    { type: "response.reasoning_summary_text.delta", item_id: rs, output_index: 0, summary_index: 0, delta: summary },
    { type: "response.reasoning_summary_text.done", item_id: rs, output_index: 0, summary_index: 0, text: summary },
    { type: "response.reasoning_summary_part.done", item_id: rs, output_index: 0, summary_index: 0, part: { type: "summary_text", text: summary } },
    { type: "response.output_item.done", output_index: 0, item: reasoningItem },
    ...out.events,
    {
      type: "response.completed",
      response: response("completed", {
        output: [reasoningItem, out.item],
        usage: {
          input_tokens: 20,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens: 16,
          output_tokens_details: { reasoning_tokens: 8 },
          total_tokens: 36,
        },
      }),
    },
  ];
  return events.map((e, i) => [e.type, { ...e, sequence_number: i }]);
}

serve((req, res, body, url) => {
  if (req.method !== "POST" || !url.pathname.endsWith("/responses")) {
    return json(res, 404, { error: { message: "not found (mock)", type: "invalid_request_error" } });
  }
  requests += 1;
  const key = bearer(req);
  const name = keyName(key);
  let parsed = null;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    // answered 400 below
  }
  const facts = parsed ? inspect(parsed) : {};
  const foreign = (facts.reasoningFrom ?? []).filter((from) => from !== name);
  const entry = { n: requests, name, ...facts, foreign, bodyBytes: body.length, bodySha256: sha256(body) };
  if (!name) {
    log({ ...entry, status: 401, reply: "unknown-key" });
    return json(res, 401, { error: { message: "Incorrect API key provided (mock).", type: "invalid_request_error", param: null, code: "invalid_api_key" } });
  }
  const count = (seen.get(name) ?? 0) + 1;
  seen.set(name, count);
  const script = scriptFor(scriptFile, name);
  if (!parsed) {
    log({ ...entry, status: 400, reply: "not-json" });
    return json(res, 400, { error: { message: "request body is not JSON (mock)", type: "invalid_request_error" } });
  }
  const refuse = script.refuse && count >= (script.refuseFrom ?? 1);
  if (refuse || (script.refuseToolOutput && facts.functionCallOutputs > 0)) {
    log({ ...entry, status: 429, reply: "refused" });
    return rateLimited(res, script.retryAfter ?? 120);
  }
  if (foreign.length) {
    log({ ...entry, status: 400, reply: "foreign-reasoning" });
    const item = parsed.input.find((i) => i?.type === "reasoning" && issuerOf(i.encrypted_content) !== name);
    return invalidEncryptedContent(res, item.encrypted_content, script.codeNull);
  }
  const answer = `Mock Responses answer via ${name}.`;
  const call = facts.tools.includes("balancer_command") && /balancer tool/.test(facts.lastUser) && !facts.functionCallOutputs;
  const encrypted = issue(key, name);
  log({ ...entry, status: 200, reply: call ? "tool-call" : "answer" });
  const events = answerEvents(parsed.model ?? "gpt-5.5", answer, encrypted, call);
  if (parsed.stream === false) return json(res, 200, events.at(-1)[1].response);
  sse(res, events);
});
