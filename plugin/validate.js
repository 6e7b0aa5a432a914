// Answers from the sidecar, checked before use.
import { isObject, isStringRecord, optionalStringList } from "../common/util.js";

// ---------------------------------------------------------------------------
// answers from the sidecar, checked before use

export const VALID = {
  initialize: (r) => isObject(r),
  "chat.message": (r) =>
    isObject(r) &&
    (r.model === undefined ||
      r.model === null ||
      (isObject(r.model) && typeof r.model.providerID === "string" && typeof r.model.modelID === "string")),
  "chat.headers": (r) =>
    isObject(r) &&
    (r.requestID === undefined || r.requestID === null || typeof r.requestID === "string") &&
    (r.syncAuth === undefined || r.syncAuth === null || validSyncAuth(r.syncAuth)),
  "fetch.begin": (r) =>
    isObject(r) &&
    (r.action === "switch"
      ? validSwitch(r)
      : r.action === "fail"
        ? validFail(r)
        : r.passthrough === true || (isStringRecord(r.setHeaders) && optionalStringList(r.removeHeaders))),
  "fetch.result": (r) =>
    isObject(r) &&
    (r.action === "return" ||
      (r.action === "retry" &&
        isStringRecord(r.setHeaders) &&
        optionalStringList(r.removeHeaders) &&
        (r.syncAuth === undefined || r.syncAuth === null || validSyncAuth(r.syncAuth))) ||
      (r.action === "switch" && validSwitch(r)) ||
      (r.action === "fail" && validFail(r))),
  "fetch.stream": (r) => isObject(r) && (r.action === "hold" || r.action === "forward" || VALID["fetch.result"](r)),
  "continuity.strip": (r) => isObject(r) && (r.body === undefined || typeof r.body === "string"),
  "providers.describe": (r) => isObject(r),
  "command.run": (r) => isObject(r) && typeof r.output === "string",
  "session.get": (r) => isObject(r),
};

/** `switch`: send the request to another provider (docs/protocol.md, "Keeping a turn going"). */
export function validSwitch(r) {
  return (
    typeof r.url === "string" &&
    /^https?:\/\//i.test(r.url) &&
    isStringRecord(r.setHeaders) &&
    (r.removeHeaders === undefined || (Array.isArray(r.removeHeaders) && r.removeHeaders.every((h) => typeof h === "string"))) &&
    (r.body === undefined ||
      (isObject(r.body) &&
        (r.body.set === undefined || isObject(r.body.set)) &&
        (r.body.remove === undefined || (Array.isArray(r.body.remove) && r.body.remove.every((k) => typeof k === "string"))))) &&
    (r.syncAuth === undefined || r.syncAuth === null || validSyncAuth(r.syncAuth))
  );
}

/** `fail`: answer opencode at once with this final error. */
export function validFail(r) {
  return (
    typeof r.message === "string" &&
    Number.isInteger(r.status) &&
    r.status >= 400 &&
    r.status < 500 &&
    (r.resubmit === undefined ||
      (isObject(r.resubmit) &&
        typeof r.resubmit.sessionID === "string" &&
        typeof r.resubmit.providerID === "string" &&
        typeof r.resubmit.modelID === "string" &&
        typeof r.resubmit.message === "string"))
  );
}

export function validSyncAuth(s) {
  return isObject(s) && typeof s.providerID === "string" && s.providerID !== "" && isObject(s.auth) && typeof s.auth.type === "string";
}
