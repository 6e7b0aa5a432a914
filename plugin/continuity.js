// The body without the conversation state another account or provider produced (docs/continuity.md), for V1's fetch patch and V2's hooks alike.
import { errorText, isObject } from "../common/util.js";

/** The `stripState` scope an answer asks for, or undefined (the body goes out byte for byte). */
export function stripScope(answer) {
  const scope = isObject(answer?.stripState) ? answer.stripState.scope : undefined;
  return scope === "same-provider" || scope === "provider-move" ? scope : undefined;
}

/**
 * The request as the sidecar's `stripState` says: without the conversation state another account
 * or provider produced, edited by the sidecar (`continuity.strip`, asked with `call`). Without
 * `stripState` (the request is on the account that produced its state) nothing is asked and the
 * body goes out byte for byte. A body already edited with that scope (or a wider one) is not sent
 * again; any failure sends it as it is (and says so with `note`).
 */
export async function stripped(call, note, prepared, headers, answer) {
  const scope = stripScope(answer);
  if (!scope) return { prepared, headers };
  if (prepared.body === undefined || prepared.stripped === scope || prepared.stripped === "provider-move") return { prepared, headers };
  let text;
  try {
    text = typeof prepared.body === "string" ? prepared.body : new TextDecoder("utf-8", { fatal: true }).decode(prepared.body);
  } catch {
    return { prepared, headers };
  }
  let r;
  try {
    r = await call("continuity.strip", { url: prepared.url, body: text, scope });
  } catch (e) {
    note(`could not remove another account's conversation state (${errorText(e)}); sending the request as it is`);
    return { prepared, headers };
  }
  if (typeof r.body !== "string") return { prepared: { ...prepared, stripped: scope }, headers };
  const next = new Headers(headers);
  next.delete("content-length");
  return { prepared: { ...prepared, body: r.body, stripped: scope }, headers: next };
}
