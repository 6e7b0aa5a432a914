// Provider requests: the marker, bodies and headers prepared for a re-send, switched requests, response peeks.
import { stripAnsi } from "../common/safe-text.js";
import { isObject, isStringRecord, optionalStringList } from "../common/util.js";
import { BODY_PEEK_BYTES, MARKER } from "./constants.js";

// ---------------------------------------------------------------------------
// request bodies and headers

export function findMarker(input, init) {
  const headers = init && init.headers !== undefined && init.headers !== null ? init.headers : isRequest(input) ? input.headers : null;
  if (!headers) return null;
  if (typeof headers.get === "function" && typeof headers.has === "function") {
    return headers.get(MARKER);
  }
  if (Array.isArray(headers)) {
    for (const pair of headers) {
      if (Array.isArray(pair) && String(pair[0]).toLowerCase() === MARKER) return String(pair[1]);
    }
    return null;
  }
  if (typeof headers === "object") {
    for (const key of Object.keys(headers)) {
      if (key.toLowerCase() === MARKER) return headers[key] == null ? null : String(headers[key]);
    }
  }
  return null;
}

export function isRequest(v) {
  if (typeof Request !== "undefined" && v instanceof Request) return true;
  return isObject(v) && typeof v.url === "string" && isObject(v.headers) && typeof v.clone === "function" && typeof v.arrayBuffer === "function";
}

export function isStreamBody(body) {
  if (!body || typeof body !== "object") return false;
  if (typeof ReadableStream !== "undefined" && body instanceof ReadableStream) return true;
  return typeof body[Symbol.asyncIterator] === "function" && typeof body.arrayBuffer !== "function";
}

/** Own fetch options that must survive a re-send (Bun's `timeout`, `proxy`, `tls`, …). */
export const STANDARD_INIT_KEYS = new Set(["method", "headers", "body", "signal", "duplex", "window"]);
export const EXTRA_REQUEST_KEYS = ["timeout", "proxy", "tls", "verbose", "decompress", "unix", "dispatcher"];

/** A body fetch can send any number of times as it is: no copy needed for a retry. */
export function isReusableBody(body) {
  return body === undefined || body === null || typeof body === "string" || ArrayBuffer.isView(body) || body instanceof ArrayBuffer;
}

export const NORMALIZED_METHODS = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]);

/** Fetch options other than the standard ones, from the input Request and the init. */
export function extraOptions(input, init) {
  const extra = {};
  if (isRequest(input)) {
    for (const key of EXTRA_REQUEST_KEYS) {
      if (input[key] !== undefined) extra[key] = input[key];
    }
  }
  if (isObject(init)) {
    for (const key of Object.keys(init)) {
      if (!STANDARD_INIT_KEYS.has(key)) extra[key] = init[key];
    }
  }
  return extra;
}

/**
 * Everything the request is made of, so it can be sent again. A URL with a string or bytes body
 * (what opencode's SDKs send) is taken as it came: the body object is passed on untouched. Any
 * other request (a Request, a stream, Blob, FormData, URLSearchParams body) is read once: its
 * body becomes bytes, with the content-type fetch would have derived for it.
 */
export async function prepareRequest(input, init) {
  if ((typeof input === "string" || input instanceof URL) && isObject(init) && isReusableBody(init.body)) {
    const headers = new Headers(init.headers ?? undefined);
    headers.delete(MARKER);
    const method = String(init.method ?? "GET");
    return {
      url: new URL(input).href,
      method: NORMALIZED_METHODS.has(method.toUpperCase()) ? method.toUpperCase() : method,
      headers,
      body: init.body ?? undefined,
      signal: init.signal ?? undefined,
      redirect: init.redirect,
      extra: extraOptions(input, init),
    };
  }
  let requestInit = init;
  if (init && isStreamBody(init.body) && init.duplex === undefined) requestInit = { ...init, duplex: "half" };
  const request = new Request(input, requestInit);
  const headers = new Headers(request.headers);
  headers.delete(MARKER);
  let body;
  if (request.method !== "GET" && request.method !== "HEAD" && request.body !== null) {
    body = new Uint8Array(await request.arrayBuffer());
  }
  const signal = init?.signal ?? (isRequest(input) ? input.signal : undefined) ?? undefined;
  return { url: request.url, method: request.method, headers, body, signal, redirect: request.redirect, extra: extraOptions(input, init) };
}

export function initFor(prepared, headers) {
  const init = { ...prepared.extra, method: prepared.method, headers };
  if (prepared.redirect !== undefined) init.redirect = prepared.redirect;
  if (prepared.body !== undefined) init.body = prepared.body;
  if (prepared.signal) init.signal = prepared.signal;
  return init;
}

/** Send the caller's request minus the marker header, as untouched as possible. */
export function withoutMarker(input, init) {
  try {
    if (init && init.headers !== undefined && init.headers !== null) {
      const headers = new Headers(init.headers);
      headers.delete(MARKER);
      return [input, { ...init, headers }];
    }
    if (isRequest(input) && input.headers.has(MARKER)) {
      const headers = new Headers(input.headers);
      headers.delete(MARKER);
      return [new Request(input, { headers }), init];
    }
  } catch {
    // fall through: send as it came
  }
  return [input, init];
}

/** A prepared body (a string, or bytes) as text. */
export function bodyText(body) {
  return typeof body === "string" ? body : new TextDecoder("utf-8").decode(body);
}

/**
 * The prepared request as the sidecar's `switch` says: another URL, the body's top-level fields
 * set and removed (a JSON body only; any other body is kept as it is), the credential headers
 * set and the first provider's account headers removed. Throws when the body cannot be rewritten.
 */
export function switchedRequest(prepared, headers, sw) {
  let body = prepared.body;
  const edit = isObject(sw.body) ? sw.body : {};
  const set = isObject(edit.set) ? edit.set : {};
  const remove = Array.isArray(edit.remove) ? edit.remove : [];
  if (body !== undefined && (Object.keys(set).length > 0 || remove.length > 0)) {
    const parsed = JSON.parse(bodyText(body));
    if (!isObject(parsed)) throw new Error("the request body is not a JSON object");
    for (const key of remove) delete parsed[key];
    for (const [key, value] of Object.entries(set)) parsed[key] = value;
    body = JSON.stringify(parsed);
  }
  const next = new Headers(headers);
  for (const name of Array.isArray(sw.removeHeaders) ? sw.removeHeaders : []) next.delete(name);
  next.delete("content-length");
  return { prepared: { ...prepared, url: sw.url, body }, headers: applySetHeaders(next, sw.setHeaders) };
}

/**
 * A final answer for opencode: a plain 400 whose JSON carries the sidecar's message where both
 * the OpenAI-style and the Anthropic-style SDKs read an error's message. opencode does not retry
 * it (the sidecar keeps the words and numbers it retries on out of the message).
 */
export function finalResponse(status, message) {
  const text = JSON.stringify({
    type: "error",
    error: { message: stripAnsi(message), type: "invalid_request_error", code: "opencode_balancer_provider_resting" },
  });
  return new Response(text, { status, statusText: "Bad Request", headers: { "content-type": "application/json" } });
}

// `remove`: headers of the original account the chosen one has no value for (removeHeaders).
export function applySetHeaders(headers, set, remove) {
  const next = new Headers(headers);
  for (const name of remove ?? []) {
    if (typeof name === "string" && name.toLowerCase() !== MARKER) next.delete(name);
  }
  for (const [name, value] of Object.entries(set)) {
    if (typeof value === "string" && name.toLowerCase() !== MARKER) next.set(name, value);
  }
  return next;
}

/** `{headerNames, authorization?}`: what a request's credential headers depend on (fetch.begin's params). */
export function requestShape(headers) {
  const shape = { headerNames: [...new Set(headers.keys())] };
  const authorization = headers.get("authorization");
  if (authorization !== null) shape.authorization = /^bearer\s/i.test(authorization) ? "bearer" : "other";
  return shape;
}

/** Whether two shapes get the same credential headers: the same of the `watch` headers present, the same authorization kind. */
export function sameShape(watch, a, b) {
  if (a.authorization !== b.authorization) return false;
  return watch.every((name) => a.headerNames.includes(name) === b.headerNames.includes(name));
}

/** `begin` of a `chat.headers` answer: fetch.begin's answer for the expected request, and the headers it depends on. */
export function validBegin(b) {
  return (
    isObject(b) &&
    isObject(b.account) &&
    isStringRecord(b.setHeaders) &&
    optionalStringList(b.removeHeaders) &&
    Array.isArray(b.watch) &&
    b.watch.every((h) => typeof h === "string")
  );
}

export function wantedResponseHeader(name) {
  return (
    name.startsWith("retry-after") ||
    name.includes("ratelimit") ||
    name.includes("rate-limit") ||
    name.startsWith("x-codex-") ||
    name === "x-should-retry" ||
    name === "content-type"
  );
}

export function reportHeaders(headers) {
  const out = {};
  headers.forEach((value, name) => {
    const key = name.toLowerCase();
    if (wantedResponseHeader(key)) out[key] = value;
  });
  return out;
}

/** The first BODY_PEEK_BYTES of a response's body, read from a clone. */
export async function peekBody(response, timeoutMs) {
  let clone;
  try {
    clone = response.clone();
  } catch {
    return undefined;
  }
  const reader = clone.body?.getReader?.();
  if (!reader) return "";
  const chunks = [];
  let total = 0;
  let timer;
  const deadline = new Promise((resolve) => {
    timer = setTimeout(() => resolve(null), timeoutMs);
  });
  try {
    while (total < BODY_PEEK_BYTES) {
      const r = await Promise.race([reader.read(), deadline]);
      if (!r || r.done) break;
      const value = r.value instanceof Uint8Array ? r.value : new Uint8Array(r.value);
      chunks.push(value);
      total += value.byteLength;
    }
  } catch {
    // a broken body: report what was read
  } finally {
    clearTimeout(timer);
    reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(Math.min(total, BODY_PEEK_BYTES));
  let offset = 0;
  for (const c of chunks) {
    if (offset >= bytes.length) break;
    const part = c.subarray(0, bytes.length - offset);
    bytes.set(part, offset);
    offset += part.length;
  }
  // stream:true keeps a multi-byte character cut at the limit out of the text.
  return new TextDecoder("utf-8").decode(bytes, { stream: true });
}

export async function discard(response) {
  try {
    await response.body?.cancel();
  } catch {
    // nothing to free
  }
}
