// The V2 hot path: `http.request` sets the chosen account, `http.response` reports it and fails over inside the same call.
//
// The same protocol as V1's fetch patch (docs/protocol.md): `chat.headers` with the request's
// real shape (its `begin` is then good as it is), `fetch.begin` when there is none, the 2xx told
// with the `fetch.result` notification, a refusal (status, body, or an error event first in a 200
// stream: V1's look-ahead) answered by `fetch.result` / `fetch.stream`: `retry` (next account),
// `switch` (next provider, same API), `fail` (a final answer; with `resubmit` the session's next
// message goes to the next provider through `session.switchModel`). A re-sent request's response
// replaces `a.response`, so V2 sees the answer of the account that gave one.
//
// `deps` (plugin/v2/index.js builds it): `call(method, params, timeoutMs?)` (checked answers,
// rejects on any problem), `notify(method, params)`, `log(text)` (never given a secret),
// `toast?(text, variant)`, `timeoutMs`, `fetch?` (default: globalThis.fetch).

import { errorText, isObject } from "../../common/util.js";
import { stripScope, stripped } from "../continuity.js";
import { HARD_MAX_ATTEMPTS } from "../constants.js";
import { isEventStream, lookAhead } from "../lookahead.js";
import { applySetHeaders, discard, finalResponse, peekBody, reportHeaders, requestShape, switchedRequest } from "../request.js";
import { Credentials, credentialOf, locateSecret, placeSecret, secretValue } from "./credential.js";
import { Providers } from "./providers.js";
import { providerRest } from "./retry.js";

/** `begin` of a `chat.headers` answer that can be used as it is (V1's validBegin, credential allowed). */
function usableBegin(b) {
  return isObject(b) && isObject(b.account) && isObject(b.setHeaders) && Object.values(b.setHeaders).every((v) => typeof v === "string");
}

/** A refusal that rests an account (login, quota, rate limit, server trouble), not one about the request itself. */
function restsAccount(status) {
  return status === 401 || status === 402 || status === 403 || status === 429 || status >= 500;
}

export class HotPath {
  constructor(ctx, deps) {
    this.ctx = ctx;
    this.deps = deps;
    this.credentials = new Credentials(ctx, (method, params) => deps.notify(method, params));
    this.providers = new Providers(ctx, deps);
    /** The managed requests between their two hooks: Request → per-request state. */
    this.requests = new WeakMap();
    /** providerID → the base URL V2 sends it to (from `model.request`), told with chat.headers. */
    this.baseURLs = new Map();
    /** sessionID → the model `{providerID, id}` of its latest request (V2's session.get has none). */
    this.models = new Map();
  }

  get fetch() {
    return this.deps.fetch ?? globalThis.fetch;
  }

  /** The model a session's latest request went to, or undefined. */
  modelOf(sessionID) {
    return this.models.get(sessionID);
  }

  rememberModel(sessionID, model) {
    if (typeof sessionID !== "string" || typeof model?.providerID !== "string" || typeof model?.id !== "string") return;
    this.models.delete(sessionID);
    this.models.set(sessionID, { providerID: model.providerID, id: model.id });
    if (this.models.size > 1000) this.models.delete(this.models.keys().next().value);
  }

  /** `model.request`: remembers where the provider's requests go (the sidecar's `api.baseURL`) and the session's model. */
  onModelRequest(a) {
    this.rememberModel(a?.sessionID, a?.model);
    const providerID = a?.model?.providerID;
    if (typeof providerID === "string" && typeof a.baseURL === "string" && a.baseURL !== "") this.baseURLs.set(providerID, a.baseURL);
  }

  /** `http.request`: ask the sidecar for the pick and put it on the request. */
  async onRequest(a) {
    const request = a?.request;
    const providerID = a?.model?.providerID;
    const sessionID = a?.sessionID;
    if (!(request instanceof Request) || typeof providerID !== "string" || typeof sessionID !== "string") return;
    this.rememberModel(sessionID, a.model);
    const shape = requestShape(request.headers);
    const params = { sessionID, providerID, modelID: String(a.model.id ?? ""), fetch: shape };
    await this.providers.load();
    const api = { ...this.providers.api(providerID) };
    if (!api.baseURL && this.baseURLs.has(providerID)) api.baseURL = this.baseURLs.get(providerID);
    if (api.npm || api.baseURL) params.api = api;
    const result = await this.deps.call("chat.headers", params);
    if (typeof result.requestID !== "string" || result.requestID === "") return;
    const st = { requestID: result.requestID, providerID, sessionID, where: null };
    let answer;
    if (usableBegin(result.begin)) {
      answer = result.begin;
      // Sent without fetch.begin: a refusal tells the sidecar what went out.
      st.sent = { url: request.url, ...shape };
    } else {
      answer = await this.deps.call("fetch.begin", { requestID: st.requestID, url: request.url, method: request.method, ...shape });
      if (answer.action === "fail") {
        st.final = answer;
        this.requests.set(request, st);
        return;
      }
      if (answer.passthrough === true && answer.action !== "switch") {
        this.requests.set(request, st);
        return;
      }
    }
    const prepared = this.preparedHead(request);
    const moved = await this.follow(st, prepared, new Headers(request.headers), answer, (p) => this.withBody(request, p));
    if (!moved) {
      this.requests.set(request, st);
      return;
    }
    a.request = this.rebuilt(request, moved);
    this.requests.set(a.request, st);
  }

  /** `http.response`: report a 2xx; on a refusal follow the sidecar's answer and hand V2 the response that came. */
  async onResponse(a) {
    const st = a?.request ? this.requests.get(a.request) : undefined;
    if (!st || !(a.response instanceof Response)) return;
    this.requests.delete(a.request);
    if (st.final) {
      await discard(a.response);
      a.response = await this.finalAnswer(st, st.final);
      return;
    }
    // What a resend starts from; made only when one is needed (a 2xx never needs it).
    let prepared = null;
    let headers = null;
    let response = a.response;
    const body = (p) => this.withBody(a.request, p);
    for (let attempt = 1; ; attempt++) {
      const params = { requestID: st.requestID, attempt, status: response.status, headers: reportHeaders(response.headers) };
      if (st.sent && attempt === 1) params.sent = st.sent;
      let verdict;
      if (response.status >= 200 && response.status < 300) {
        const look = isEventStream(response)
          ? await lookAhead(response, (events) => this.deps.call("fetch.stream", { ...params, events }))
          : null;
        if (look) {
          // The look-ahead read the body: from here V2 gets the rebuilt response, whatever follows.
          response = look.response;
          a.response = response;
        }
        if (!look?.answer) {
          delete params.sent;
          this.deps.notify("fetch.result", params);
          a.response = response;
          return;
        }
        verdict = look.answer;
      } else {
        const peeked = await peekBody(response, this.deps.timeoutMs ?? 1500);
        if (peeked !== undefined) params.body = peeked;
        try {
          verdict = await this.deps.call("fetch.result", params);
        } catch (e) {
          this.deps.log(`fetch.result failed (${errorText(e)}); V2 gets the refusal as it came`);
          a.response = response;
          return;
        }
      }
      if (verdict.action === "fail") {
        await discard(response);
        a.response = await this.finalAnswer(st, verdict);
        return;
      }
      if (verdict.action === "return" && restsAccount(response.status)) {
        a.response = await this.endIfResting(st, response);
        return;
      }
      const signal = a.request.signal;
      if (!["retry", "switch"].includes(verdict.action) || attempt >= HARD_MAX_ATTEMPTS || signal?.aborted) {
        a.response = response;
        return;
      }
      let moved;
      try {
        prepared ??= this.preparedHead(a.request);
        headers ??= new Headers(a.request.headers);
        moved = await this.follow(st, prepared, headers, verdict, body);
      } catch (e) {
        this.deps.log(`could not carry out ${verdict.action} (${errorText(e)}); V2 gets the refusal`);
        moved = null;
      }
      if (!moved) {
        a.response = response;
        return;
      }
      let next;
      try {
        moved.prepared = await this.withBody(a.request, moved.prepared);
        next = await this.fetch(moved.prepared.url, this.init(moved.prepared, moved.headers, signal));
      } catch (e) {
        this.deps.log(`the re-sent request failed (${errorText(e)}); V2 gets the refusal`);
        a.response = response;
        return;
      }
      await discard(response);
      ({ prepared, headers } = moved);
      response = next;
      a.response = response;
    }
  }

  /**
   * A refusal the sidecar leaves to the host: V2 would wait (its retry, `Retry-After` long) on an
   * account the balancer knows rests. When every account of the provider rests, the final answer
   * with the plain message instead (what the `retry` hook decides too, said where V2 shows it).
   */
  async endIfResting(st, response) {
    let rest;
    try {
      rest = await providerRest(this.deps, st.providerID);
    } catch (e) {
      this.deps.log(`could not read ${st.providerID}'s accounts (${errorText(e)}); V2 gets the refusal`);
      return response;
    }
    if (rest.state !== "resting") return response;
    await discard(response);
    this.deps.log(rest.message);
    this.deps.toast?.(rest.message, "warning");
    return finalResponse(400, rest.message);
  }

  /** `{url, method}` of a request, its body read only when a move needs it. */
  preparedHead(request) {
    return { url: request.url, method: request.method, body: undefined, bodyRead: false };
  }

  /** `prepared` (this request's, as it stands after any move) with the request's body: read once, from a clone (V2 still sends the original). */
  async withBody(request, prepared) {
    if (!prepared.bodyRead) {
      prepared.bodyRead = true;
      if (request.method !== "GET" && request.method !== "HEAD" && request.body !== null) {
        prepared.body = new Uint8Array(await request.clone().arrayBuffer());
      }
    }
    return prepared;
  }

  init(prepared, headers, signal) {
    const init = { method: prepared.method, headers };
    if (prepared.body !== undefined) init.body = prepared.body;
    if (signal) init.signal = signal;
    return init;
  }

  /**
   * The request as a sidecar answer on an account says (`fetch.begin`/`begin`, `retry`, `switch`):
   * its headers, the credential of an opencode2 account, another URL and body for a switch, the
   * body without another account's state when told `stripState`. Null when it cannot be done.
   */
  async follow(st, prepared, headers, answer, body) {
    let next;
    if (answer.action === "switch") {
      const p = await body(prepared);
      let moved;
      try {
        moved = switchedRequest(p, headers, answer);
      } catch (e) {
        this.deps.log(`could not move the request to ${answer.account?.providerID ?? "the next provider"} (${errorText(e)})`);
        return null;
      }
      prepared = moved.prepared;
      next = moved.headers;
    } else {
      next = applySetHeaders(headers, answer.setHeaders ?? {}, answer.removeHeaders);
    }
    const credential = credentialOf(answer);
    if (credential) {
      const provider = credential.provider ?? answer.account?.providerID ?? st.providerID;
      next = await this.putCredential(st, next, credential, provider);
      if (!next) return null;
    }
    return this.stripped(prepared, next, answer, body);
  }

  /** `headers` with the secret of `credential` where V2 put the active one; null when V2 has no secret for it. */
  async putCredential(st, headers, credential, provider) {
    let active = null;
    if (!st.where) {
      try {
        active = await this.credentials.active(st.providerID);
      } catch (e) {
        this.deps.log(`could not read ${st.providerID}'s active credential (${errorText(e)})`);
      }
      st.where = locateSecret(headers, active?.value);
    }
    // The pick is V2's active credential (the common case): its secret was just resolved.
    const value = active?.id === credential.id ? active.value : secretValue(await this.credentials.resolve(credential.id, provider));
    if (value === null) {
      this.deps.log(`V2 has no usable secret for credential ${credential.id}`);
      return null;
    }
    const placed = placeSecret(headers, st.where, value);
    st.where = placed.where;
    return placed.headers;
  }

  /** The body without the state another account produced, when the answer says `stripState` (V1's rule; the body read first). */
  async stripped(prepared, headers, answer, body) {
    if (!stripScope(answer)) return { prepared, headers };
    return stripped(this.deps.call, this.deps.log, await body(prepared), headers, answer);
  }

  /** The request V2 sends after `http.request`: the same object with new headers when only they changed. */
  rebuilt(request, moved) {
    const { prepared, headers } = moved;
    if (prepared.url === request.url && prepared.body === undefined) {
      try {
        for (const name of [...request.headers.keys()]) if (!headers.has(name)) request.headers.delete(name);
        for (const [name, value] of headers) request.headers.set(name, value);
        return request;
      } catch {
        // immutable headers: a new Request below (the body is read for it)
      }
    }
    const init = { method: prepared.method, headers, signal: request.signal };
    const body = prepared.bodyRead ? prepared.body : undefined;
    if (body !== undefined) init.body = body;
    else if (!prepared.bodyRead && request.body !== null) return new Request(request, { headers });
    return new Request(prepared.url, init);
  }

  /**
   * The final answer V2 shows (V1's finalResponse). With `resubmit` the session's next message goes
   * to that provider's model (`session.switchModel`); the message says so.
   */
  async finalAnswer(st, fail) {
    const r = fail.resubmit;
    if (isObject(r) && typeof this.ctx?.session?.switchModel === "function") {
      try {
        await this.ctx.session.switchModel({ sessionID: r.sessionID, model: { providerID: r.providerID, id: r.modelID } });
      } catch (e) {
        this.deps.log(`could not switch the session to ${r.providerID}/${r.modelID} (${errorText(e)})`);
      }
    }
    return finalResponse(fail.status, fail.message);
  }
}
