// The fetch patch: each marked provider request goes out as the account the sidecar picks (retry, switch, fail).
import { errorText, withTimeout } from "../common/util.js";
import { FIRST_SHAPE, HARD_MAX_ATTEMPTS, HELD_FRESH_MS, MAX_HELD } from "./constants.js";
import { stripped } from "./continuity.js";
import { isEventStream, lookAhead } from "./lookahead.js";
import { Openings } from "./openings.js";
import { applySetHeaders, discard, finalResponse, findMarker, initFor, peekBody, prepareRequest, reportHeaders, requestShape, sameShape, switchedRequest, validBegin } from "./request.js";

/** The fetch half of the process-wide Runtime (plugin/runtime.js extends it). */
export class FetchRouting extends Openings {
  installFetch() {
    if (this.patchedFetch || typeof globalThis.fetch !== "function") return;
    const original = globalThis.fetch;
    const runtime = this;
    const patched = function fetch(input, init, ...rest) {
      let marker = null;
      try {
        marker = findMarker(input, init);
      } catch {
        marker = null;
      }
      if (marker === null) return original(input, init, ...rest);
      return runtime.managedFetch(original, input, init, marker);
    };
    for (const key of Object.keys(original)) {
      try {
        patched[key] = original[key];
      } catch {
        // read-only property: skip
      }
    }
    if (typeof original.preconnect === "function" && patched.preconnect === undefined) {
      patched.preconnect = original.preconnect.bind(original);
    }
    this.originalFetch = original;
    this.patchedFetch = patched;
    globalThis.fetch = patched;
  }

  restoreFetch() {
    if (!this.patchedFetch) return;
    // Someone patched on top of us: leave their wrapper; ours only passes through now.
    if (globalThis.fetch === this.patchedFetch) globalThis.fetch = this.originalFetch;
    this.patchedFetch = null;
  }

  /**
   * The shape `chat.headers` tells the sidecar to expect for a request to `providerID`: that of
   * its last request, else a bearer.
   */
  expectedShape(providerID) {
    return this.shapes.get(providerID) ?? FIRST_SHAPE;
  }

  /** Where the pick epochs of `providerID` stand (taken before chat.headers is asked). */
  pickMark(providerID) {
    const at = this.now();
    return { gen: this.sidecar.current, at, until: at + HELD_FRESH_MS, epoch: this.epoch, providerEpoch: this.providerEpochs.get(providerID) ?? 0 };
  }

  /**
   * Keeps what chat.headers answered for a request until its fetch; `mark` is `pickMark` from
   * before the call (with `until` from `validMs` for an opening asked ahead), so a change told
   * while the answer was on its way counts. `ask`: `{sessionID, modelID, api}` of the request,
   * for the opening asked ahead after its 2xx.
   */
  hold(requestID, providerID, expected, begin, mark, ask) {
    this.held.delete(requestID);
    this.held.set(requestID, { providerID, expected, begin: validBegin(begin) ? begin : null, ...mark, ask });
    if (this.held.size > MAX_HELD) this.held.delete(this.held.keys().next().value);
  }

  /**
   * A pick may have changed: an event about the provider (a cooldown, a refused login, a change
   * by the user, a refreshed token; `null`: any provider), another process's change to the store,
   * or a refusal this plugin saw. Answers held from before then are not used.
   */
  picksChanged(providerID) {
    if (providerID === null) this.epoch += 1;
    else this.providerEpochs.set(providerID, (this.providerEpochs.get(providerID) ?? 0) + 1);
  }

  /**
   * The `fetch.begin` answer held for a request of `shape`, when it still holds: the same sidecar
   * answered it before `until` (HELD_FRESH_MS after asking, or the `validMs` of an opening asked
   * ahead), nothing changed a pick since, and the request has the headers the answer depends on as
   * it was expected to. Else null: ask fetch.begin.
   */
  stillGood(held, shape) {
    if (!held?.begin) return null;
    const fresh = this.sidecar.current === held.gen && this.now() < held.until;
    const unchanged = this.epoch === held.epoch && (this.providerEpochs.get(held.providerID) ?? 0) === held.providerEpoch;
    return fresh && unchanged && sameShape(held.begin.watch, held.expected, shape) ? held.begin : null;
  }

  /**
   * Runs `write` (what a 2xx tells the sidecar) right after the response is handed back, in one
   * write to the sidecar; `flushWrites` runs what is left (the runtime's release), so nothing is lost.
   */
  afterHandBack(write) {
    const run = () => {
      if (!this.unwritten.delete(run)) return;
      this.sidecar.corked(write);
    };
    this.unwritten.add(run);
    setImmediate(run);
  }

  flushWrites() {
    for (const run of [...this.unwritten]) run();
  }

  /** The request's credential headers: the held answer, else fetch.begin's (which may move or end the request). */
  async beginRequest(requestID, prepared, shape, held) {
    const ready = this.stillGood(held, shape);
    if (ready) {
      const headers = applySetHeaders(prepared.headers, ready.setHeaders, ready.removeHeaders);
      return { moved: await this.stripped(prepared, headers, ready), skipped: true };
    }
    const begin = await this.call("fetch.begin", { requestID, url: prepared.url, method: prepared.method, ...shape });
    if (begin.action === "fail") return { final: this.finalAnswer(begin) };
    if (begin.action === "switch") return { moved: await this.carrySwitch(prepared, prepared.headers, begin), switched: true };
    if (begin.passthrough === true) return { headers: prepared.headers };
    const headers = applySetHeaders(prepared.headers, begin.setHeaders, begin.removeHeaders);
    return { moved: await this.stripped(prepared, headers, begin) };
  }

  /** The request as the sidecar's `stripState` says (plugin/continuity.js). */
  stripped(prepared, headers, answer) {
    return stripped((method, params) => this.call(method, params), (text) => this.note(text), prepared, headers, answer);
  }

  async managedFetch(original, input, init, requestID) {
    const held = this.held.get(requestID);
    this.held.delete(requestID);
    let prepared;
    try {
      prepared = await prepareRequest(input, init);
    } catch (e) {
      this.note(`could not prepare a marked request (${errorText(e)}); sending it as is`);
      return original(...withoutMarker(input, init));
    }
    const sendAs = (req, headers) => original(req.url, initFor(req, headers));
    if (this.closed) return sendAs(prepared, prepared.headers);

    const shape = requestShape(prepared.headers);
    // A request moved to another provider (`switch`) asks no opening for its first one.
    if (held) {
      this.shapes.delete(held.providerID);
      this.shapes.set(held.providerID, shape);
      if (this.shapes.size > MAX_HELD) this.shapes.delete(this.shapes.keys().next().value);
    }
    let headers;
    // Sent without asking fetch.begin: a refusal tells the sidecar what went out.
    let sent;
    // Moved to another provider (a switch): the next request's opening is that provider's to ask.
    let switched = false;
    try {
      const b = await this.beginRequest(requestID, prepared, shape, held);
      if (b.final) return b.final;
      if (b.skipped) sent = { url: prepared.url, ...shape };
      if (b.moved) ({ prepared, headers } = b.moved);
      else headers = b.headers ?? prepared.headers;
      switched = b.switched === true && Boolean(b.moved);
    } catch {
      return sendAs(prepared, prepared.headers);
    }

    for (let attempt = 1; ; attempt++) {
      let response = await sendAs(prepared, headers);
      const params = { requestID, attempt, status: response.status, headers: reportHeaders(response.headers) };
      if (sent && attempt === 1) params.sent = sent;
      let verdict;
      if (response.status >= 200 && response.status < 300) {
        // An event stream may still refuse in its first events (lookAhead below): asked only then.
        const look = isEventStream(response) ? await lookAhead(response, (events) => this.call("fetch.stream", { ...params, events })) : null;
        if (look) response = look.response;
        if (!look?.answer) {
          // The answer to a 2xx is always `return`: told, not awaited.
          delete params.sent;
          // The 2xx and the next request's opening go out in one write (one sidecar wake), after
          // the response is handed back: off opencode's path (its answer is awaited by nobody).
          this.afterHandBack(() => {
            this.sidecar.notify("fetch.result", params);
            if (held?.ask && !switched) this.askAhead(held.ask.sessionID, held.providerID, held.ask.modelID, held.ask.api);
          });
          return response;
        }
        verdict = look.answer;
        if (held) this.picksChanged(held.providerID);
      } else {
        // Refused: a request held for the same provider asks fetch.begin again.
        if (held) this.picksChanged(held.providerID);
        const body = await peekBody(response, this.settings.timeoutMs);
        if (body !== undefined) params.body = body;
        try {
          verdict = await this.call("fetch.result", params);
        } catch {
          return response;
        }
      }
      if (verdict.action === "fail") {
        await discard(response);
        return this.finalAnswer(verdict);
      }
      if (!["retry", "switch"].includes(verdict.action) || attempt >= HARD_MAX_ATTEMPTS || prepared.signal?.aborted) return response;
      if (verdict.action === "switch") {
        const carried = await this.carrySwitch(prepared, headers, verdict);
        if (!carried) return response;
        await discard(response);
        ({ prepared, headers } = carried);
        switched = true;
        continue;
      }
      let next;
      try {
        next = applySetHeaders(headers, verdict.setHeaders, verdict.removeHeaders);
      } catch {
        return response; // a header value fetch refuses
      }
      if (verdict.syncAuth) await this.syncAuth(verdict.syncAuth);
      await discard(response);
      ({ prepared, headers } = await this.stripped(prepared, next, verdict));
    }
  }

  /** The request moved to another provider, or null when it cannot be rewritten. */
  async carrySwitch(prepared, headers, sw) {
    let moved;
    try {
      moved = switchedRequest(prepared, headers, sw);
    } catch (e) {
      this.note(`could not move the request to ${sw.account?.providerID ?? "the next provider"} (${errorText(e)})`);
      return null;
    }
    if (sw.syncAuth) await this.syncAuth(sw.syncAuth);
    return this.stripped(moved.prepared, moved.headers, sw);
  }

  /**
   * Ends opencode's wait with the sidecar's final message. With `resubmit` and a host that keeps
   * running after the error (the TUI, `opencode serve`; not `opencode run`, which exits), the
   * user's message is then sent again on the new model: abort the turn, promptAsync.
   */
  finalAnswer(fail) {
    const r = fail.resubmit;
    const parts = r ? this.lastParts.get(r.sessionID) : undefined;
    if (r && parts && this.settings.resubmit && this.client?.session?.promptAsync) {
      const client = this.client;
      setTimeout(() => {
        this.resubmit(client, r, parts).catch((e) => this.note(`could not send the message again: ${errorText(e)}`));
      }, 0);
      return finalResponse(fail.status, r.message);
    }
    return finalResponse(fail.status, fail.message);
  }

  async resubmit(client, r, parts) {
    const path = { id: r.sessionID };
    if (client.session.abort) await withTimeout(Promise.resolve().then(() => client.session.abort({ path })), 5000, "session.abort");
    await withTimeout(
      Promise.resolve().then(() =>
        client.session.promptAsync({ path, body: { model: { providerID: r.providerID, modelID: r.modelID }, parts } }),
      ),
      5000,
      "session.promptAsync",
    );
  }

}
