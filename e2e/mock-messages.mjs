//! A loopback Anthropic Messages API mock that can refuse inside an HTTP 200 event stream, for the continuity e2e.
//
//   node e2e/mock-messages.mjs --port-file FILE --log FILE [--script FILE]
//
// Listens on 127.0.0.1 only (a port the system picks, written to --port-file). `POST …/messages`
// with `x-api-key` (or `authorization: Bearer`) `test-key-<name>-FAKE` (any other key → 401):
//   - the key's script names a `streamError` (e.g. "rate_limit_error", "overloaded_error") →
//     HTTP 200 `text/event-stream` whose FIRST event is
//     `event: error` / `data: {"type":"error","error":{"type":"<streamError>","message":"…"}}`
//     and nothing else, as Anthropic sends it when a limit arrives after the status line (with
//     `afterMessageStart`, a `message_start` and a `ping` come first: still no content);
//   - else 200, the stream Anthropic sends: message_start, content_block_start (text), ping,
//     text_delta content_block_delta events, content_block_stop, message_delta, message_stop, of
//     "Mock Messages answer via <name>." (one JSON message when the request has no `stream`).
// --script is a JSON file `{"<name>": {"streamError": "rate_limit_error", "afterMessageStart":
// false}}`, re-read on every request. Every request appends one JSON line to --log (never a key):
//   {"n":1, "name":"alpha", "status":200, "reply":"stream-error"|"answer"|…, "thinking":0,
//    "model":"claude-sonnet-4-5", "stream":true, "bodyBytes":…, "bodySha256":"…", "at":ms}
// No dependencies.

import { arg, bearer, json, keyName, logTo, scriptFor, serve, sha256, sse, words } from "./mock-common.mjs";

const log = logTo(arg("--log"));
const scriptFile = arg("--script");
let requests = 0;

/** Thinking and redacted-thinking blocks replayed in assistant messages. */
const thinkingBlocks = (parsed) =>
  (Array.isArray(parsed?.messages) ? parsed.messages : [])
    .filter((m) => m?.role === "assistant" && Array.isArray(m.content))
    .flatMap((m) => m.content)
    .filter((b) => b?.type === "thinking" || b?.type === "redacted_thinking").length;

function answerEvents(model, answer) {
  const id = `msg_mock_${requests}`;
  const deltas = words(answer);
  const message = { id, type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 20, output_tokens: 1 } };
  return [
    ["message_start", { type: "message_start", message }],
    ["content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }],
    ["ping", { type: "ping" }],
    ...deltas.map((text) => ["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text } }]),
    ["content_block_stop", { type: "content_block_stop", index: 0 }],
    ["message_delta", { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: deltas.length } }],
    ["message_stop", { type: "message_stop" }],
  ];
}

serve((req, res, body, url) => {
  if (req.method !== "POST" || !url.pathname.endsWith("/messages")) {
    return json(res, 404, { type: "error", error: { type: "not_found_error", message: "not found (mock)" } });
  }
  requests += 1;
  const name = keyName(req.headers["x-api-key"] ?? bearer(req));
  let parsed = null;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    // answered 400 below
  }
  const entry = { n: requests, name, thinking: thinkingBlocks(parsed), model: parsed?.model ?? null, stream: parsed?.stream ?? null, bodyBytes: body.length, bodySha256: sha256(body) };
  if (!name) {
    log({ ...entry, status: 401, reply: "unknown-key" });
    return json(res, 401, { type: "error", error: { type: "authentication_error", message: "invalid x-api-key (mock)" } });
  }
  if (!parsed) {
    log({ ...entry, status: 400, reply: "not-json" });
    return json(res, 400, { type: "error", error: { type: "invalid_request_error", message: "request body is not JSON (mock)" } });
  }
  const script = scriptFor(scriptFile, name);
  if (script.streamError) {
    log({ ...entry, status: 200, reply: "stream-error" });
    const message = script.streamError === "overloaded_error" ? "Overloaded" : "This request would exceed your account's rate limit. Please try again later. (mock)";
    const error = ["error", { type: "error", error: { type: script.streamError, message } }];
    return sse(res, script.afterMessageStart ? [answerEvents(parsed.model ?? "claude-sonnet-4-5", "")[0], ["ping", { type: "ping" }], error] : [error]);
  }
  const model = parsed.model ?? "claude-sonnet-4-5";
  const answer = `Mock Messages answer via ${name}.`;
  log({ ...entry, status: 200, reply: "answer" });
  if (parsed.stream !== true) {
    const events = answerEvents(model, answer);
    return json(res, 200, { ...events[0][1].message, content: [{ type: "text", text: answer }], stop_reason: "end_turn" });
  }
  sse(res, answerEvents(model, answer));
});
