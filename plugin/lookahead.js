// The look-ahead over the first events of a 2xx event stream (refusals inside a 200).
// ---------------------------------------------------------------------------
// the look-ahead over the first events of a 2xx event stream (issue 29, docs/continuity.md)
//
// The sidecar decides whether an error event is a refusal (`fetch.stream`); the plugin only
// holds the first events the user would not see anyway and forwards the stream the moment one
// may be content. The pre-check is deliberately cheap and one-sided: an event is held only
// when it is one of the sidecar's neutral events by name (message_start, ping,
// response.created, …), the sidecar is asked only when an event may be an error, and anything
// else is content: forwarded at once, so time to first token does not suffer and a stream
// without an error never costs a sidecar call. Bounds as the sidecar's `Lookahead`: 64 events
// or 256 KiB, then the stream is forwarded without a verdict.

export const LOOKAHEAD_MAX_EVENTS = 64;
export const LOOKAHEAD_MAX_BYTES = 256 * 1024;

/** Event types that show nothing and commit the model to nothing (src/continuity/stream.rs). */
export const NEUTRAL_TYPES = new Set([
  "message_start",
  "ping",
  "content_block_stop",
  "response.created",
  "response.in_progress",
  "response.queued",
  "response.reasoning_summary_part.added",
]);

export const TYPE = /"type"\s*:\s*"([^"]{1,80})"/;
export const EMPTY_THINKING_START = /"content_block"\s*:\s*\{\s*"type"\s*:\s*"(?:redacted_thinking"|thinking"\s*,\s*"thinking"\s*:\s*""\s*[,}])/;
export const REASONING_ITEM = /"item"\s*:\s*\{[^{}[\]]*"type"\s*:\s*"reasoning"/;
export const ROLE_ONLY_CHUNK = /"delta"\s*:\s*\{\s*"role"\s*:\s*"assistant"\s*(?:,\s*"content"\s*:\s*(?:""|null)\s*)?\}/;
export const ERROR_TYPE = /(^|\.)(error|failed)$/;
export const TOP_LEVEL_ERROR = /^\s*\{\s*"error"\s*:/;

/**
 * What the pre-check makes of one event: `"hold"` (neutral by name), `"ask"` (may be an error:
 * the sidecar decides) or `"content"` (forward now).
 */
export function precheck(event, data) {
  if (event === "error" || TOP_LEVEL_ERROR.test(data)) return "ask";
  if (data.trim() === "[DONE]") return "hold";
  const type = event && event !== "message" ? event : TYPE.exec(data)?.[1];
  if (type !== undefined && ERROR_TYPE.test(type)) return "ask";
  if (type !== undefined && NEUTRAL_TYPES.has(type)) return "hold";
  if (type === "content_block_start" && EMPTY_THINKING_START.test(data)) return "hold";
  if ((type === "response.output_item.added" || type === "response.output_item.done") && REASONING_ITEM.test(data)) return "hold";
  if (type === undefined && ROLE_ONLY_CHUNK.test(data) && !data.includes('"tool_calls"')) return "hold";
  return "content";
}

/** One server-sent event block as `{event?, data}`; null for a block without data (comments). */
export function parseEvent(block) {
  let event;
  const data = [];
  for (const line of block.split(/\r\n|\r|\n/)) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  if (data.length === 0) return null;
  return event === undefined ? { data: data.join("\n") } : { event, data: data.join("\n") };
}

export const BOUNDARY = /\r\n\r\n|\n\n|\r\r/;

/** Whether a response is a server-sent event stream. */
export function isEventStream(response) {
  return Boolean(response.body) && /^\s*text\/event-stream/i.test(response.headers.get("content-type") ?? "");
}

/**
 * Holds the first events of a 2xx event stream while the pre-check calls them neutral; `ask`
 * (the held events → the sidecar's `fetch.stream` answer) is called when one may be an error.
 * Resolves to `{answer, response}`: `answer` null when the stream is to be forwarded (content
 * came, the bounds were reached, the stream ended, or the sidecar said `forward`), else the
 * sidecar's answer to the refusal; `response` replays every byte read, then the rest.
 */
export async function lookAhead(response, ask) {
  const reader = response.body.getReader();
  const held = [];
  const decoder = new TextDecoder("utf-8");
  const events = [];
  let text = "";
  let bytes = 0;
  let answer = null;
  outer: for (;;) {
    let r;
    try {
      r = await reader.read();
    } catch {
      break;
    }
    if (r.done) break;
    held.push(r.value);
    text += decoder.decode(r.value, { stream: true });
    for (let m = BOUNDARY.exec(text); m; m = BOUNDARY.exec(text)) {
      const ev = parseEvent(text.slice(0, m.index));
      text = text.slice(m.index + m[0].length);
      if (!ev) continue;
      events.push(ev);
      bytes += ev.data.length + (ev.event?.length ?? 0);
      const kind = precheck(ev.event, ev.data);
      if (kind === "content") break outer;
      if (kind === "ask") {
        let a;
        try {
          a = await ask(events);
        } catch {
          break outer;
        }
        if (a?.action === "hold") continue;
        if (a?.action !== "forward") answer = a;
        break outer;
      }
      if (events.length >= LOOKAHEAD_MAX_EVENTS || bytes >= LOOKAHEAD_MAX_BYTES) break outer;
    }
    if (bytes + text.length >= LOOKAHEAD_MAX_BYTES) break;
  }
  const replay = new ReadableStream({
    start(controller) {
      for (const chunk of held) controller.enqueue(chunk);
    },
    async pull(controller) {
      try {
        const r = await reader.read();
        if (r.done) controller.close();
        else controller.enqueue(r.value);
      } catch (e) {
        controller.error(e);
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  const rebuilt = new Response(replay, { status: response.status, statusText: response.statusText, headers: response.headers });
  return { answer, response: rebuilt };
}
