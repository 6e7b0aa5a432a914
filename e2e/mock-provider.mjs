// A loopback mock of an OpenAI-compatible provider, for the end-to-end scenario.
//
//   node e2e/mock-provider.mjs --port-file FILE --log FILE
//
// Listens on 127.0.0.1 only, on a port chosen by the system; writes the port
// to --port-file once it listens. `POST /v1/chat/completions`, also under any
// prefix (`/first/v1/chat/completions`, `/second/v1/…`: several providers on one
// mock):
//   - key test-key-alpha-FAKE → 429 with `Retry-After: 120` and an OpenAI-style
//     rate-limit error body;
//   - key test-key-bravo-FAKE → 200, the fixed answer (MOCK_ANSWER) as an SSE
//     stream of chat.completion.chunk objects ending in `data: [DONE]`, or as one
//     chat.completion object when the request does not ask for a stream;
//     when the last user message asks for "the balancer tool" and the request
//     offers a `balancer_command` tool, the stream is a call of that tool with
//     {"text":"list"}, and the request that carries the tool's result is
//     answered "Tool output: <result>";
//   - key test-key-charlie-FAKE → 200 like bravo, answering CHARLIE_ANSWER
//     ("Hello from the second provider, via charlie.");
//   - key test-key-delta-FAKE → 429 with `Retry-After: 300` (a second dry provider);
//   - key test-key-quota-FAKE → 429, OpenAI's `insufficient_quota` body, no
//     reset hint (an account out of credit);
//   - any other key, or none → 401.
// Every request to that path appends one JSON line to --log:
//   {"key":"test-key-alpha-FAKE","status":429,"bodyBytes":1234,"stream":true,
//    "tools":["bash",…],"reply":"answer"|"tool-call"|"tool-output",
//    "path":"/v1/chat/completions","model":"m1"}
// `GET /v1/models` lists the one model. No dependencies.

import { createServer } from "node:http";
import { appendFileSync, writeFileSync, renameSync } from "node:fs";

const args = process.argv.slice(2);
function arg(name, fallback) {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
}
const portFile = arg("--port-file", process.env.MOCK_PORT_FILE);
const logFile = arg("--log", process.env.MOCK_LOG);
const answer = process.env.MOCK_ANSWER || "Hello from the mock provider, via bravo.";
const ALPHA = "test-key-alpha-FAKE";
const BRAVO = "test-key-bravo-FAKE";
const CHARLIE = "test-key-charlie-FAKE";
const DELTA = "test-key-delta-FAKE";
const QUOTA = "test-key-quota-FAKE";
const charlieAnswer = process.env.CHARLIE_ANSWER || "Hello from the second provider, via charlie.";

function log(entry) {
  if (!logFile) return;
  appendFileSync(logFile, JSON.stringify(entry) + "\n");
}

function bearer(req) {
  const h = req.headers["authorization"];
  if (typeof h !== "string") return null;
  const m = /^Bearer\s+(.+)$/i.exec(h.trim());
  return m ? m[1] : h;
}

function json(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function chunk(id, created, delta, finish) {
  return {
    id,
    object: "chat.completion.chunk",
    created,
    model: "m1",
    choices: [{ index: 0, delta, finish_reason: finish ?? null }],
  };
}

function textOf(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p) => (typeof p?.text === "string" ? p.text : "")).join("");
  return "";
}

/** What to answer: the fixed text, a balancer_command call, or the tool's output. */
function replyFor(parsed, tools, text = answer) {
  const messages = Array.isArray(parsed?.messages) ? parsed.messages : [];
  const last = messages[messages.length - 1];
  if (last?.role === "tool") return { kind: "tool-output", text: `Tool output: ${textOf(last.content)}` };
  if (last?.role === "user" && /balancer tool/i.test(textOf(last.content)) && tools.includes("balancer_command")) {
    return { kind: "tool-call" };
  }
  return { kind: "answer", text };
}

function streamAnswer(res, reply) {
  const id = "chatcmpl-mock-" + Date.now();
  const created = Math.floor(Date.now() / 1000);
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    connection: "keep-alive",
  });
  const events = [chunk(id, created, { role: "assistant", content: "" })];
  let words = [];
  if (reply.kind === "tool-call") {
    events.push(
      chunk(id, created, {
        tool_calls: [{ index: 0, id: "call_mock_1", type: "function", function: { name: "balancer_command", arguments: "" } }],
      }),
      chunk(id, created, { tool_calls: [{ index: 0, function: { arguments: '{"text":' } }] }),
      chunk(id, created, { tool_calls: [{ index: 0, function: { arguments: '"list"}' } }] }),
      chunk(id, created, {}, "tool_calls"),
    );
  } else {
    // Split the answer in a few pieces, as real providers do.
    words = reply.text.split(/(?<= )/);
    for (const w of words) events.push(chunk(id, created, { content: w }));
    events.push(chunk(id, created, {}, "stop"));
  }
  const usage = {
    ...chunk(id, created, {}),
    choices: [],
    usage: { prompt_tokens: 10, completion_tokens: words.length, total_tokens: 10 + words.length },
  };
  events.push(usage);
  for (const e of events) res.write(`data: ${JSON.stringify(e)}\n\n`);
  res.write("data: [DONE]\n\n");
  res.end();
}

function plainAnswer(res, reply) {
  json(res, 200, {
    id: "chatcmpl-mock-" + Date.now(),
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: "m1",
    choices: [{ index: 0, message: { role: "assistant", content: reply.text ?? answer }, finish_reason: "stop" }],
    usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
  });
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    const url = new URL(req.url, "http://127.0.0.1");
    if (req.method === "GET" && url.pathname.endsWith("/v1/models")) {
      return json(res, 200, { object: "list", data: [{ id: "m1", object: "model", owned_by: "mock" }] });
    }
    if (req.method !== "POST" || !url.pathname.endsWith("/v1/chat/completions")) {
      return json(res, 404, { error: { message: "not found", type: "invalid_request_error" } });
    }
    let parsed = null;
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch {
      // logged below as stream:null
    }
    const key = bearer(req);
    const stream = parsed ? parsed.stream === true : null;
    let status;
    if (key === ALPHA || key === DELTA || key === QUOTA) status = 429;
    else if (key === BRAVO || key === CHARLIE) status = parsed ? 200 : 400;
    else status = 401;
    const tools = Array.isArray(parsed?.tools) ? parsed.tools.map((t) => t?.function?.name ?? t?.name) : [];
    const reply = status === 200 ? replyFor(parsed, tools, key === CHARLIE ? charlieAnswer : answer) : null;
    const model = typeof parsed?.model === "string" ? parsed.model : null;
    log({ key, status, bodyBytes: body.length, stream, tools, reply: reply?.kind, at: Date.now(), path: url.pathname, model });
    if (status === 429 && key === QUOTA) {
      return json(res, 429, {
        error: {
          message: "You exceeded your current quota, please check your plan and billing details.",
          type: "insufficient_quota",
          param: null,
          code: "insufficient_quota",
        },
      });
    }
    if (status === 429 && key === DELTA) {
      return json(
        res,
        429,
        { error: { message: "Rate limit reached for requests (mock delta).", type: "requests", code: "rate_limit_exceeded" } },
        { "retry-after": "300" },
      );
    }
    if (status === 429) {
      return json(
        res,
        429,
        {
          error: {
            message: "Rate limit reached for requests (mock alpha). Please try again in 120s.",
            type: "requests",
            code: "rate_limit_exceeded",
          },
        },
        {
          "retry-after": "120",
          "x-ratelimit-limit-requests": "1",
          "x-ratelimit-remaining-requests": "0",
          "x-ratelimit-reset-requests": "120s",
        },
      );
    }
    if (status === 401) {
      return json(res, 401, { error: { message: "invalid api key (mock)", type: "invalid_request_error", code: "invalid_api_key" } });
    }
    if (status === 400) {
      return json(res, 400, { error: { message: "request body is not JSON", type: "invalid_request_error" } });
    }
    if (stream) streamAnswer(res, reply);
    else plainAnswer(res, reply);
  });
});

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address();
  if (portFile) {
    writeFileSync(portFile + ".tmp", String(port));
    renameSync(portFile + ".tmp", portFile);
  } else {
    process.stdout.write(`${port}\n`);
  }
});

for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => server.close(() => process.exit(0)));
