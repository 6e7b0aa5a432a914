//! A test-only opencode plugin: sends the provider endpoints opencode hard-codes to a loopback mock.
//
// opencode 1.18.33's built-in ChatGPT login rewrites every `openai` request to
// https://chatgpt.com/backend-api/codex/responses and refreshes its token at
// https://auth.openai.com/oauth/token, both through the global fetch at call time, with no
// setting to move them. This plugin wraps globalThis.fetch so any request to chatgpt.com or
// *.openai.com goes to OCB_E2E_REDIRECT_URL (http://127.0.0.1:PORT, nothing else is accepted)
// instead, with the same path, query, method, headers and body, plus `x-ocb-e2e-via: opencode`
// so the mock can tell opencode's requests from the sidecar's (which go there directly).
// Nothing to those hosts ever reaches the network: with no usable OCB_E2E_REDIRECT_URL they
// fail. Everything else passes through untouched.
//
// Order (the rule, checked with opencode 1.18.33): whoever patches globalThis.fetch last is
// called first. The built-in plugins (the ChatGPT one among them) load first; then opencode
// imports every external plugin (`loadExternal`, config `plugin` entries and
// `{plugin,plugins}/*.{js,ts}` files) and only after all imports calls each one's `server` in
// turn. The balancer patches fetch in its `server`; this file patches when its module is
// evaluated, so it always ends up below the balancer, wherever it is listed (seen both as an
// opencode.json `plugin` entry and as plugin/zz-redirect.js beside plugin/opencode-balancer.js).
// A request then goes: AI SDK → the ChatGPT plugin's fetch (URL rewritten to chatgpt.com,
// opencode's own bearer) → the balancer's patch (steers: the chosen account's authorization and
// chatgpt-account-id, re-sends on a 429) → this (redirects to the mock) → network. A wrapper made
// in `server` instead would depend on the server order and could end up above the balancer,
// which would then see a loopback URL. Each redirected request is logged with `marker: true` if
// it still carries the balancer's request marker, which would mean exactly that.
//
// OCB_E2E_REDIRECT_LOG: a file that gets one JSON line per event:
//   {"event":"loaded","balancerLoaded":false}            module evaluated (balancer not yet)
//   {"event":"server","balancerLoaded":true}             opencode called this plugin's server
//   {"event":"redirect","host":"chatgpt.com","path":"/backend-api/codex/responses",
//    "method":"POST","marker":false,"refresh":false}      one request sent to the mock
//   {"event":"refused","host":…,"path":…}                no loopback target: failed, not sent
// Never a token or a body.

import { appendFileSync } from "node:fs";

const VIA_HEADER = "x-ocb-e2e-via";
const MARKER = "x-opencode-balancer-request";
const BALANCER_RUNTIME = Symbol.for("opencode-balancer.plugin.runtime");
const PATCHED = Symbol.for("opencode-balancer.e2e.redirect");

function note(entry) {
  const file = process.env.OCB_E2E_REDIRECT_LOG;
  if (!file) return;
  try {
    appendFileSync(file, JSON.stringify({ ...entry, pid: process.pid, at: Date.now() }) + "\n");
  } catch {
    // a log that cannot be written never breaks a request
  }
}

/** The loopback base requests go to, or null when it is unset or not 127.0.0.1. */
function target() {
  try {
    const u = new URL(process.env.OCB_E2E_REDIRECT_URL ?? "");
    return u.protocol === "http:" && u.hostname === "127.0.0.1" ? u : null;
  } catch {
    return null;
  }
}

const hijacked = (host) => host === "chatgpt.com" || host.endsWith(".chatgpt.com") || host === "openai.com" || host.endsWith(".openai.com");

function urlOf(input) {
  if (typeof input === "string") return new URL(input);
  if (input instanceof URL) return input;
  if (input && typeof input.url === "string") return new URL(input.url);
  return null;
}

function install() {
  const original = globalThis.fetch;
  if (typeof original !== "function" || original[PATCHED]) return;
  const redirecting = async function fetch(input, init, ...rest) {
    let url = null;
    try {
      url = urlOf(input);
    } catch {
      url = null;
    }
    if (!url || !hijacked(url.hostname)) return original(input, init, ...rest);
    const base = target();
    if (!base) {
      note({ event: "refused", host: url.hostname, path: url.pathname });
      throw new Error(`e2e redirect plugin: no 127.0.0.1 OCB_E2E_REDIRECT_URL for ${url.hostname}; request not sent`);
    }
    const request = new Request(input, init);
    const headers = new Headers(request.headers);
    headers.set(VIA_HEADER, "opencode");
    const to = new URL(url.pathname + url.search, base);
    note({
      event: "redirect",
      host: url.hostname,
      path: url.pathname,
      method: request.method,
      marker: headers.has(MARKER),
      refresh: url.pathname === "/oauth/token",
    });
    const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.arrayBuffer();
    return original(to, { method: request.method, headers, body, signal: request.signal, redirect: request.redirect });
  };
  for (const key of Object.keys(original)) {
    try {
      redirecting[key] = original[key];
    } catch {
      // read-only: skip
    }
  }
  redirecting[PATCHED] = true;
  globalThis.fetch = redirecting;
}

install();
note({ event: "loaded", balancerLoaded: globalThis[BALANCER_RUNTIME] !== undefined });

export async function server() {
  note({ event: "server", balancerLoaded: globalThis[BALANCER_RUNTIME] !== undefined });
  return {};
}

export default { id: "ocb-e2e-redirect", server };
