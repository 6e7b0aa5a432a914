//! A loopback stand-in for ChatGPT's backend and OpenAI's OAuth issuer, for the token-keeper e2e case.
//
//   node e2e/mock-chatgpt.mjs --port-file FILE --log FILE --seed-dir DIR [--secrets FILE]
//
// Listens on 127.0.0.1 only, on a port the system picks (written to --port-file once it listens).
// It is the authority for every token it knows: on start it writes opencode-style oauth
// credentials ({type, refresh, access, expires, accountId}) into --seed-dir:
//   alpha.json          account acct-alpha-FAKE, access valid for 10 days;
//   bravo-valid.json    account acct-bravo-FAKE, access valid for 10 days (family bravo-valid);
//   bravo-expired.json  account acct-bravo-FAKE, access expired 3 hours ago (family bravo-expired);
//   charlie-expired.json account acct-charlie-FAKE, access expired an hour ago.
// Access tokens are unsigned JWTs (signature "FAKE…") carrying exp, chatgpt_account_id and the
// `https://api.openai.com/auth` claim; refresh tokens are `rt-<family>-<generation>-FAKE`.
//
// --secrets FILE gets every token it mints, one a line, so checks can look for them in outputs.
//
// Routes (the redirect plugin sends chatgpt.com and auth.openai.com here; the sidecar comes
// straight through OPENCODE_BALANCER_CHATGPT_ISSUER_URL / OPENCODE_BALANCER_CHATGPT_URL):
//   POST /backend-api/codex/responses   by bearer: any alpha token → 429 usage_limit_reached with
//       Retry-After: 3600; a known, unexpired token of another account → 200, a Responses API SSE
//       stream of MOCK_ANSWER, by default "Hello from the mock ChatGPT, via <account>."; an expired or unknown token → 401.
//   GET  /backend-api/wham/usage        a known, unexpired token → 200 usage document (lightly used,
//       alpha too), else 401.
//   POST /oauth/token                   form body grant_type=refresh_token, refresh_token,
//       client_id=app_EMoamEEZ73f0CkXaXp7hrann. The family's current refresh token → 200
//       {access_token, refresh_token, id_token, expires_in} (the next generation, living
//       MOCK_TOKEN_LIFETIME_S, default 3600); a spent one → 400 invalid_grant refresh_token_reused
//       (rotation is single use); anything else → 400 invalid_grant / invalid_request.
// Every request appends one JSON line to --log (never a token):
//   {"kind":"responses"|"usage"|"refresh"|"other", "via":"opencode"|"direct", "status":200,
//    "account":"bravo", "family":"bravo-expired", "gen":1, "token":"fresh"|"expired"|"unknown",
//    "accountHeader":"acct-bravo-FAKE", "marker":false, "outcome":"issued"|"reused"|…, "at":ms}
// `via` is "opencode" when the redirect plugin forwarded it (header x-ocb-e2e-via), and `token`
// says whether the bearer was issued by a refresh ("fresh"), is a seed that still lives ("seed"),
// has expired ("expired") or is not ours ("unknown"). No dependencies.

import { createServer } from "node:http";
import { appendFileSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const args = process.argv.slice(2);
const arg = (name) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : undefined;
};
const portFile = arg("--port-file");
const logFile = arg("--log");
const seedDir = arg("--seed-dir");
const secretsFile = arg("--secrets");
/** The answer for an account: MOCK_ANSWER, else one that names the account it came through. */
const answerFor = (account) => process.env.MOCK_ANSWER || `Hello from the mock ChatGPT, via ${account}.`;
const lifetimeS = Number(process.env.MOCK_TOKEN_LIFETIME_S) > 0 ? Number(process.env.MOCK_TOKEN_LIFETIME_S) : 3600;
const CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann";
const RATE_LIMITED = "alpha";
const VIA_HEADER = "x-ocb-e2e-via";
const MARKER = "x-opencode-balancer-request";
const HOUR = 3600_000;

const log = (entry) => logFile && appendFileSync(logFile, JSON.stringify({ ...entry, at: Date.now() }) + "\n");

// --- tokens ------------------------------------------------------------------

const b64url = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");
/** access token → {account, family, gen, exp (ms), issued: "seed"|"refresh"} */
const accessTokens = new Map();
/** refresh token → {account, family, gen, spent} */
const refreshTokens = new Map();
let serial = 0;

function jwt(account, exp, kind) {
  serial += 1;
  const accountId = `acct-${account}-FAKE`;
  const payload = {
    iss: "https://auth.openai.com",
    sub: `user-${account}-FAKE`,
    exp: Math.floor(exp / 1000),
    iat: Math.floor(Date.now() / 1000),
    jti: `${kind}-${serial}`,
    email: `${account}@example.invalid`,
    chatgpt_account_id: accountId,
    "https://api.openai.com/auth": { chatgpt_account_id: accountId, chatgpt_plan_type: "plus" },
  };
  return `${b64url({ alg: "none", typ: "JWT" })}.${b64url(payload)}.FAKE-signature-${serial}`;
}

/** Mints generation `gen` of `family` for `account`; the access token ends at `exp`. */
function mint(account, family, gen, exp, issued) {
  const access = jwt(account, exp, "access");
  const refresh = `rt-${family}-${gen}-FAKE`;
  accessTokens.set(access, { account, family, gen, exp, issued });
  refreshTokens.set(refresh, { account, family, gen, spent: false });
  const idToken = jwt(account, exp, "id");
  if (secretsFile) appendFileSync(secretsFile, [access, refresh, idToken].join("\n") + "\n", { mode: 0o600 });
  return { access, refresh, idToken, accountId: `acct-${account}-FAKE` };
}

function seed(name, account, expiresAt) {
  const t = mint(account, name, 0, expiresAt, "seed");
  const credential = { type: "oauth", refresh: t.refresh, access: t.access, expires: expiresAt, accountId: t.accountId };
  writeFileSync(join(seedDir, `${name}.json`), JSON.stringify(credential) + "\n", { mode: 0o600 });
}

/** What a bearer token is, for the log and the answer. */
function lookup(token) {
  const t = token ? accessTokens.get(token) : undefined;
  if (!t) return { token: "unknown" };
  const live = t.exp > Date.now();
  return {
    account: t.account,
    family: t.family,
    gen: t.gen,
    token: !live ? "expired" : t.issued === "refresh" ? "fresh" : "seed",
  };
}

// --- answers -------------------------------------------------------------------

function send(res, status, body, headers = {}) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

function bearer(req) {
  const m = /^Bearer\s+(.+)$/i.exec(String(req.headers["authorization"] ?? "").trim());
  return m ? m[1] : null;
}

/** The Responses API stream opencode 1.18.33's openai provider accepts (found by running it). */
function streamAnswer(res, model, answer) {
  const id = `resp_mock_${Date.now()}`;
  const created = Math.floor(Date.now() / 1000);
  const item = `msg_mock_${Date.now()}`;
  const response = (status, extra = {}) => ({ id, object: "response", created_at: created, model, status, output: [], ...extra });
  const parts = answer.split(/(?<= )/);
  const events = [
    { type: "response.created", response: response("in_progress") },
    { type: "response.in_progress", response: response("in_progress") },
    {
      type: "response.output_item.added",
      output_index: 0,
      item: { id: item, type: "message", status: "in_progress", role: "assistant", content: [] },
    },
    ...parts.map((delta) => ({ type: "response.output_text.delta", item_id: item, output_index: 0, content_index: 0, delta })),
    {
      type: "response.output_item.done",
      output_index: 0,
      item: {
        id: item,
        type: "message",
        status: "completed",
        role: "assistant",
        content: [{ type: "output_text", text: answer, annotations: [] }],
      },
    },
    {
      type: "response.completed",
      response: response("completed", {
        usage: {
          input_tokens: 10,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens: parts.length,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: 10 + parts.length,
        },
      }),
    },
  ];
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  for (const [i, e] of events.entries()) res.write(`event: ${e.type}\ndata: ${JSON.stringify({ ...e, sequence_number: i })}\n\n`);
  res.end();
}

function responses(req, res, body, base) {
  const who = lookup(bearer(req));
  let parsed = null;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    // answered 400 below
  }
  const status = who.account === RATE_LIMITED ? 429 : who.token === "fresh" || who.token === "seed" ? (parsed ? 200 : 400) : 401;
  log({ ...base, ...who, status, bodyBytes: body.length, stream: parsed?.stream ?? null, model: parsed?.model ?? null });
  if (status === 429) {
    const resetsIn = 3600;
    return send(
      res,
      429,
      {
        error: {
          type: "usage_limit_reached",
          message: "The usage limit has been reached (mock alpha)",
          plan_type: "plus",
          resets_in_seconds: resetsIn,
          resets_at: Math.floor(Date.now() / 1000) + resetsIn,
        },
      },
      { "retry-after": String(resetsIn), "x-codex-primary-used-percent": "100" },
    );
  }
  if (status === 401) {
    return send(res, 401, { error: { message: "Your authentication token has expired (mock).", type: "invalid_request_error", code: "token_expired" } });
  }
  if (status === 400) return send(res, 400, { error: { message: "request body is not JSON", type: "invalid_request_error" } });
  const answer = answerFor(who.account);
  if (parsed.stream === false) {
    return send(res, 200, { id: "resp_mock", object: "response", status: "completed", output: [{ type: "message", role: "assistant", content: [{ type: "output_text", text: answer, annotations: [] }] }] });
  }
  streamAnswer(res, parsed.model ?? "gpt-5.5", answer);
}

function usage(req, res, base) {
  const who = lookup(bearer(req));
  const ok = who.token === "fresh" || who.token === "seed";
  log({ ...base, ...who, status: ok ? 200 : 401 });
  if (!ok) return send(res, 401, { detail: "Unauthorized" });
  const resetAt = Math.floor(Date.now() / 1000) + 3600;
  // alpha reads as lightly used: its 429 comes as a surprise, so the failover (not a proactive
  // switch on its usage) is what picks bravo.
  const used = who.account === RATE_LIMITED ? 20 : 12;
  send(res, 200, {
    plan_type: "plus",
    rate_limit: {
      primary_window: { used_percent: used, limit_window_seconds: 18000, reset_at: resetAt },
      secondary_window: { used_percent: 5, limit_window_seconds: 604800, reset_at: resetAt + 86400 },
    },
  });
}

function token(req, res, body, base) {
  const form = new URLSearchParams(body.toString("utf8"));
  const presented = form.get("refresh_token");
  const t = presented ? refreshTokens.get(presented) : undefined;
  const who = t ? { account: t.account, family: t.family, gen: t.gen } : {};
  const refuse = (outcome, code, description) => {
    log({ ...base, ...who, outcome, status: 400 });
    send(res, 400, { error: code, error_description: description, code: outcome });
  };
  if (form.get("grant_type") !== "refresh_token" || form.get("client_id") !== CLIENT_ID) {
    return refuse("bad_request", "invalid_request", "grant_type must be refresh_token with the Codex client id");
  }
  if (!t) return refuse("unknown", "invalid_grant", "refresh token not recognised (mock)");
  if (t.spent) return refuse("refresh_token_reused", "invalid_grant", "refresh token already used (mock)");
  t.spent = true;
  const next = mint(t.account, t.family, t.gen + 1, Date.now() + lifetimeS * 1000, "refresh");
  log({ ...base, ...who, outcome: "issued", status: 200, newGen: t.gen + 1 });
  send(res, 200, { access_token: next.access, refresh_token: next.refresh, id_token: next.idToken, expires_in: lifetimeS, token_type: "Bearer" });
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    const { pathname } = new URL(req.url, "http://127.0.0.1");
    const base = {
      via: req.headers[VIA_HEADER] === "opencode" ? "opencode" : "direct",
      path: pathname,
      marker: req.headers[MARKER] !== undefined,
      accountHeader: req.headers["chatgpt-account-id"] ?? null,
    };
    if (req.method === "POST" && pathname === "/backend-api/codex/responses") return responses(req, res, body, { kind: "responses", ...base });
    if (req.method === "GET" && pathname === "/backend-api/wham/usage") return usage(req, res, { kind: "usage", ...base });
    if (req.method === "POST" && pathname === "/oauth/token") return token(req, res, body, { kind: "refresh", ...base });
    log({ kind: "other", method: req.method, ...base, status: 404 });
    send(res, 404, { error: { message: "not found (mock chatgpt)" } });
  });
});

if (seedDir) {
  mkdirSync(seedDir, { recursive: true });
  const now = Date.now();
  seed("alpha", "alpha", now + 240 * HOUR);
  seed("bravo-valid", "bravo", now + 240 * HOUR);
  seed("bravo-expired", "bravo", now - 3 * HOUR);
  seed("charlie-expired", "charlie", now - HOUR);
}

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address();
  if (!portFile) return process.stdout.write(`${port}\n`);
  writeFileSync(portFile + ".tmp", String(port));
  renameSync(portFile + ".tmp", portFile);
});

for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => server.close(() => process.exit(0)));
