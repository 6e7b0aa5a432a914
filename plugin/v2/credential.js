// V2 credentials on the hot path: resolve an opencode2 account through V2, put its secret where V2 put the active one, lend it to the sidecar.
//
// An account the sidecar mirrors from V2's credential table travels as `credential: {id, provider}`
// (docs/protocol.md, "Accounts of opencode 2"): the sidecar never holds its secret. The plugin asks
// V2 for it (`ctx.integration.connection.resolve`), which also refreshes an OAuth token when due,
// and replaces the secret of the credential V2 set on the request (or the one an earlier attempt
// set) wherever it stands in the headers; with none found, `authorization: Bearer <secret>`.
// Resolved secrets are lent to the sidecar in memory (`credentials.lend`) for usage readings.
// Nothing here logs, throws or returns a secret in a message.

import { createHash } from "node:crypto";
import { isObject } from "../../common/util.js";

/** `credential` of a sidecar answer when it names an opencode2 account, else null. */
export function credentialOf(answer) {
  const c = isObject(answer) ? answer.credential : undefined;
  return isObject(c) && typeof c.id === "string" && c.id !== "" ? { id: c.id, provider: typeof c.provider === "string" ? c.provider : undefined } : null;
}

/** The value a resolved V2 secret is sent as: an API key, or an OAuth access token; null otherwise. */
export function secretValue(secret) {
  if (!isObject(secret)) return null;
  if (secret.type === "key" && typeof secret.key === "string" && secret.key !== "") return secret.key;
  if (secret.type === "oauth" && typeof secret.access === "string" && secret.access !== "") return secret.access;
  return null;
}

/** The secret as `credentials.lend` carries it (only the fields the sidecar may use). */
function lendable(secret) {
  if (secret.type === "key") return { type: "key", key: secret.key };
  const out = { type: "oauth", access: secret.access };
  if (typeof secret.expires === "number") out.expires = secret.expires;
  return out;
}

function fingerprint(value) {
  return createHash("sha256").update(value).digest("hex");
}

/**
 * Credentials of one V2 process: resolving through `ctx.integration.connection`, lending to the
 * sidecar once per credential and secret (a refreshed token is lent again).
 */
export class Credentials {
  /** @param ctx V2's plugin context; @param notify (method, params) → sends a sidecar notification */
  constructor(ctx, notify) {
    this.ctx = ctx;
    this.notify = notify;
    /** credentialID → fingerprint of the secret last lent (never the secret itself). */
    this.lent = new Map();
  }

  /** The secret of credential `id` ({type, key|access, …}), lent to the sidecar; null when V2 has none. */
  async resolve(id, provider) {
    const connection = this.ctx?.integration?.connection;
    if (typeof connection?.resolve !== "function") return null;
    const secret = await connection.resolve({ type: "credential", id });
    const value = secretValue(secret);
    if (value === null) return null;
    this.lend(provider, id, secret, value);
    return secret;
  }

  /** The active credential of `providerID` and its secret value, or null (no credential, or not resolvable). */
  async active(providerID) {
    const connection = this.ctx?.integration?.connection;
    if (typeof connection?.active !== "function" || typeof providerID !== "string") return null;
    const c = await connection.active(providerID);
    if (!isObject(c) || c.type !== "credential" || typeof c.id !== "string") return null;
    const secret = await this.resolve(c.id, providerID);
    const value = secretValue(secret);
    return value === null ? null : { id: c.id, value };
  }

  lend(provider, credentialID, secret, value) {
    if (typeof provider !== "string" || provider === "") return;
    const print = fingerprint(value);
    if (this.lent.get(credentialID) === print) return;
    try {
      if (this.notify("credentials.lend", { provider, credentialID, secret: lendable(secret) }) === false) return;
    } catch {
      return;
    }
    this.lent.delete(credentialID);
    this.lent.set(credentialID, print);
    if (this.lent.size > 1000) this.lent.delete(this.lent.keys().next().value);
  }
}

/**
 * Where the request carries its credential: `{value, name, template}` — the secret on it, the
 * header holding it, and that header's value (to rebuild it with another secret when a move took
 * the header off). `value` null: unknown (no active credential, or not found in the headers).
 */
export function locateSecret(headers, value) {
  if (typeof value === "string" && value !== "") {
    for (const [name, v] of headers) {
      if (v.includes(value)) return { value, name, template: v };
    }
  }
  return { value: null, name: "authorization", template: null };
}

/**
 * `headers` with `next` (a secret value) where `where` (locateSecret) says the current one is:
 * replaced in place where it still stands, else set in the header it stood in (its old value with
 * the new secret), else `authorization: Bearer <next>`. Returns the new location.
 */
export function placeSecret(headers, where, next) {
  const out = new Headers(headers);
  let replaced = false;
  if (where.value) {
    for (const [name, v] of out) {
      if (v.includes(where.value)) {
        out.set(name, v.split(where.value).join(next));
        replaced = true;
      }
    }
  }
  if (!replaced) {
    const value = where.value && where.template ? where.template.split(where.value).join(next) : `Bearer ${next}`;
    out.set(where.name, value);
  }
  return { headers: out, where: locateSecret(out, next) };
}
