// Openings asked ahead (docs/architecture.md "The JavaScript side", docs/protocol.md "An opening ahead").
import { MAX_HELD, MAX_UNUSED } from "./constants.js";
import { validBegin } from "./request.js";

/**
 * The held-opening half of the runtime (FetchRouting extends it). After a 2xx of a session, and
 * after its `chat.message`, the plugin asks `chat.headers` with `ahead` for the session's next
 * request without awaiting it, and keeps the answer (one per session). The next `chat.headers`
 * hook of that session for the same provider, model and API takes it — once — when it is still
 * good (`stillGood`: the same sidecar, within the `validMs` the sidecar gave, nothing told since
 * that may change a pick, the same expected shape); else it asks the sidecar as before, and tells
 * it which openings it dropped unused (`unused`, sent with the next `chat.headers`).
 */
export class Openings {
  /** The clock of held answers (tests replace it). */
  now() {
    return Date.now();
  }

  /** Asks for the next request's opening of `sessionID` on `providerID`/`modelID`; not awaited by anyone. */
  askAhead(sessionID, providerID, modelID, api) {
    if (this.closed || !this.sidecar.current || typeof sessionID !== "string") return;
    const params = { sessionID, providerID, modelID: String(modelID), ahead: true };
    if (api) params.api = api;
    params.fetch = this.expectedShape(providerID);
    this.dropOpening(sessionID);
    const unused = this.takeUnused();
    if (unused) params.unused = unused;
    const mark = this.pickMark(providerID);
    const entry = { key: openingKey(params), providerID, expected: params.fetch, dropped: false, pending: null };
    entry.pending = this.call("chat.headers", params)
      .catch(() => null)
      .then((r) => {
        entry.pending = null;
        const usable = typeof r?.requestID === "string" && r.requestID !== "" && validBegin(r.begin) && Number.isFinite(r.validMs);
        if (!usable) {
          entry.dropped = true;
          if (this.openings.get(sessionID) === entry) this.openings.delete(sessionID);
          return null;
        }
        Object.assign(entry, { requestID: r.requestID, begin: r.begin, ...mark, until: mark.at + r.validMs });
        if (entry.dropped) {
          this.unusedOpening(entry);
          return null;
        }
        return entry;
      });
    this.openings.set(sessionID, entry);
    if (this.openings.size > MAX_HELD) this.dropOpening(this.openings.keys().next().value);
  }

  /**
   * The opening held for a request of `sessionID` with chat.headers' `params`, taken (no other
   * request gets it) when it is still good; else null. One still on its way is waited for (it
   * was asked before the request: no new call).
   */
  async takeOpening(sessionID, params) {
    const entry = this.openings.get(sessionID);
    if (!entry) return null;
    // Another provider, model or API: dropped without waiting for it (the request asks anew).
    if (entry.key !== openingKey(params)) {
      this.dropOpening(sessionID);
      return null;
    }
    this.openings.delete(sessionID);
    const ready = entry.pending ? await entry.pending : entry.dropped ? null : entry;
    if (!ready) return null;
    if (this.stillGood(ready, params.fetch)) return ready;
    this.unusedOpening(ready);
    return null;
  }

  /** Forgets the opening held for `sessionID`; the sidecar is told with the next chat.headers. */
  dropOpening(sessionID) {
    const entry = this.openings.get(sessionID);
    if (!entry) return;
    this.openings.delete(sessionID);
    entry.dropped = true;
    if (!entry.pending) this.unusedOpening(entry);
  }

  unusedOpening(entry) {
    // Another sidecar never knew it.
    if (entry.gen !== this.sidecar.current) return;
    this.unusedIDs.push(entry.requestID);
    if (this.unusedIDs.length > MAX_UNUSED) this.unusedIDs.shift();
  }

  /** The openings dropped unused since the last chat.headers, for its `unused`; undefined when none. */
  takeUnused() {
    if (this.unusedIDs.length === 0) return undefined;
    const ids = this.unusedIDs;
    this.unusedIDs = [];
    return ids;
  }
}

/** What an opening is for besides its session: the provider, model and API a request's chat.headers names. */
export function openingKey(params) {
  return JSON.stringify([params.providerID, params.modelID, params.api ?? null]);
}
