// V2's `retry` hook: opencode 2 never waits on an account the balancer knows is resting.
//
// V2 asks before it retries a failed turn (`decision: {retry, delay}`; after a 429 it waits what
// `Retry-After` says, 120 s and more). The balancer knows the provider's accounts: when one is
// ready while another rests, the retry goes at once (`delay: 0`; the retried request gets the
// ready account from `http.request`); when every enabled account rests, waiting is pointless:
// `{retry: false}` and a plain message saying when each is back. A provider the balancer has no
// accounts of, or nothing resting, is left to V2. V2 2.1.2 shows the error it had before the
// hook, so the hot path also ends a refused request whose accounts all rest with that message
// (plugin/v2/hot-path.js): this hook then only sees refusals the hot path did not manage.

import { isObject } from "../../common/util.js";

function resting(account, now) {
  return typeof account.coolingDownUntil === "number" && account.coolingDownUntil > now;
}

function usable(account, now) {
  return account.disabled !== true && account.loginRequired !== true && account.authFailed !== true && !resting(account, now);
}

function clock(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
}

/** The plain message for a provider whose enabled accounts all rest. */
export function restingMessage(providerID, accounts, now) {
  const parts = accounts
    .filter((a) => a.disabled !== true)
    .map((a) => (resting(a, now) ? `${a.alias} until ${clock(a.coolingDownUntil)} (in ${Math.max(1, Math.ceil((a.coolingDownUntil - now) / 60000))} min)` : `${a.alias} (login needed)`));
  return (
    `opencode-balancer: every account of ${providerID} is resting: ${parts.join(", ")}. ` +
    "opencode will not wait for them; choose another model, or `/balancer balancing on` to move on by priority."
  );
}

/**
 * Where a provider's accounts stand for a retry: `none` (no enabled account of the balancer, or
 * none resting: V2 decides), `ready` (one rests, another is ready), or `resting` (every enabled
 * account rests; `message` says until when).
 */
export async function providerRest(deps, providerID, now = Date.now()) {
  const list = await deps.call("accounts.list", { providerID });
  const accounts = Array.isArray(list) ? list.filter((x) => isObject(x) && x.providerID === providerID && typeof x.alias === "string") : [];
  const enabled = accounts.filter((x) => x.disabled !== true);
  if (enabled.length === 0 || !enabled.some((x) => resting(x, now))) return { state: "none" };
  if (enabled.some((x) => usable(x, now))) return { state: "ready" };
  return { state: "resting", message: restingMessage(providerID, accounts, now) };
}

/**
 * What the balancer makes of V2's retry decision `a` (mutated in place): `deps.call` asks the
 * sidecar, `deps.log` says what was decided. `now` is injectable for tests.
 */
export async function decideRetry(a, deps, now = Date.now()) {
  if (!isObject(a) || !isObject(a.decision) || a.decision.retry !== true) return;
  const providerID = a.model?.providerID;
  if (typeof providerID !== "string") return;
  const rest = await providerRest(deps, providerID, now);
  if (rest.state === "ready") {
    a.decision = { retry: true, delay: 0 };
    deps.log(`retry of ${providerID} at once: another account is ready`);
    return;
  }
  if (rest.state !== "resting") return;
  a.decision = { retry: false };
  // V2 2.1.2 shows the error it had before this hook; a later one may show this copy.
  if (isObject(a.error)) {
    try {
      a.error.message = rest.message;
    } catch {
      // a frozen error: the log and toast still say it
    }
  }
  deps.log(rest.message);
  deps.toast?.(rest.message, "warning");
}
