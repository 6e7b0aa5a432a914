#!/usr/bin/env bash
#! The token-keeper case of the real-opencode e2e: a failover to an idle ChatGPT login whose token expired.
#
# Sourced by e2e/run.sh (it uses run.sh's world, oc, pass/fail, show, check_json, our_pids, BIN,
# ROOT, WORK). See e2e/README.md, "The token keeper". Two worlds, each with opencode's own
# ChatGPT login `alpha` (rate-limited by the mock) and a saved idle login `bravo`:
#   oauth-fresh    bravo's access token is valid: the baseline (redirect plugin, stream format,
#                  failover steering) that holds without any token refresh;
#   oauth-expired  bravo's access token expired 3 hours ago: the sidecar's token keeper must
#                  refresh it (once) before the failover hands it out, and opencode sends no
#                  refresh of its own.
# and a third, oauth-active, where opencode's own (only) login `charlie` expired an hour ago:
# the sidecar refreshes it and writes it back before opencode would refresh it itself.
# opencode's hard-coded chatgpt.com / auth.openai.com go to e2e/mock-chatgpt.mjs through the
# test plugin e2e/redirect-plugin.mjs; the sidecar reaches the same mock through
# OPENCODE_BALANCER_CHATGPT_ISSUER_URL (refresh) and OPENCODE_BALANCER_CHATGPT_URL (usage).

OAUTH_ANSWER="Hello from the mock ChatGPT, via bravo."
OAUTH_ANSWER_CHARLIE="Hello from the mock ChatGPT, via charlie."
OAUTH_LOG="$WORK/chatgpt.log"
OAUTH_SECRETS="$WORK/chatgpt-secrets.txt"
OAUTH_SEEDS="$WORK/chatgpt-seeds"

node "$ROOT/e2e/mock-chatgpt.mjs" --port-file "$WORK/chatgpt.port" --log "$OAUTH_LOG" \
  --seed-dir "$OAUTH_SEEDS" --secrets "$OAUTH_SECRETS" >"$WORK/chatgpt.out" 2>&1 &
OAUTH_MOCK_PID=$!
for _ in $(seq 1 100); do
  [ -s "$WORK/chatgpt.port" ] && break
  kill -0 "$OAUTH_MOCK_PID" 2>/dev/null || break
  sleep 0.1
done
if [ -s "$WORK/chatgpt.port" ]; then
  OAUTH_URL="http://127.0.0.1:$(cat "$WORK/chatgpt.port")"
  pass "mock ChatGPT and token endpoint on ${OAUTH_URL#http://}"
else
  die "the mock ChatGPT did not start: $(cat "$WORK/chatgpt.out")"
fi

# Nothing of ChatGPT's leaves the machine: opencode's requests through the redirect plugin, the
# sidecar's (refresh, usage) straight to the mock. Unset again at the end of the case.
export OCB_E2E_REDIRECT_URL="$OAUTH_URL" OPENCODE_BALANCER_CHATGPT_ISSUER_URL="$OAUTH_URL" \
  OPENCODE_BALANCER_CHATGPT_URL="$OAUTH_URL" OPENCODE_BALANCER_OPENAI_URL="$OAUTH_URL"

# oauth_world NAME SEED…: a world whose opencode is logged in as the first seed's account, with
# every seed saved as its account (the seed name up to the first "-": alpha, bravo, charlie),
# the first one active, the plugin installed and the redirect plugin in opencode.json.
oauth_world() {
  local name=$1 seed alias
  shift
  world "$name"
  # From here on: a refresh the CLI's in-process runtime might make while saving counts too.
  : >"$OAUTH_LOG"
  cat >"$XDG_CONFIG_HOME/opencode/opencode.json" <<EOF
{
  "\$schema": "https://opencode.ai/config.json",
  "autoupdate": false,
  "share": "disabled",
  "plugin": ["file://$ROOT/e2e/redirect-plugin.mjs"],
  "model": "openai/gpt-5.5",
  "small_model": "openai/gpt-5.5"
}
EOF
  node -e 'const fs = require("fs"); fs.writeFileSync(process.argv[1], JSON.stringify({ openai: JSON.parse(fs.readFileSync(process.argv[2], "utf8")) }) + "\n", { mode: 0o600 })' \
    "$XDG_DATA_HOME/opencode/auth.json" "$OAUTH_SEEDS/$1.json"
  for seed in "$@"; do
    alias=${seed%%-*}
    "$BIN" accounts add openai "$alias" <"$OAUTH_SEEDS/$seed.json" >"$WORK/$name-add-$alias.out" 2>&1 ||
      die "$name: accounts add openai $alias: $(cat "$WORK/$name-add-$alias.out")"
  done
  alias=${1%%-*}
  "$BIN" accounts use openai "$alias" >"$WORK/$name-use.out" 2>&1 ||
    die "$name: accounts use openai $alias: $(cat "$WORK/$name-use.out")"
  "$BIN" install >"$WORK/$name-install.out" 2>&1 || die "$name: install: $(cat "$WORK/$name-install.out")"
  export OCB_E2E_REDIRECT_LOG="$WORK/$name-redirect.log"
  : >"$OCB_E2E_REDIRECT_LOG"
}

# oauth_check NAME WHAT CODE: check_json on the mock's log (lines) with `redirects` = the
# redirect plugin's events in NAME's world.
oauth_check() {
  local name=$1 what=$2 code=$3 problem
  if problem=$(check_json "$OAUTH_LOG" "
    const redirects = require('fs').readFileSync('$WORK/$name-redirect.log', 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    lines = lines ?? [];
    const responses = lines.filter((l) => l.kind === 'responses');
    const refreshes = lines.filter((l) => l.kind === 'refresh');
    const show = (ls) => ls.map((l) => [l.kind, l.via, l.account ?? '-', l.family ?? '-', l.gen ?? '-', l.token ?? l.outcome, l.status].join(':')).join(' ') || 'none';
    $code
  "); then
    pass "$name: $what"
  else
    fail "$name: $what: $problem"
  fi
}

# The rule the redirect plugin relies on (see its header): loaded before any plugin's server ran,
# so it sits below the balancer's fetch patch; no redirected request still carries the marker.
oauth_check_order() {
  oauth_check "$1" "the redirect plugin was loaded before the balancer patched fetch, and sits below it" '
    const loaded = redirects.find((r) => r.event === "loaded");
    if (!loaded) throw new Error("opencode did not load e2e/redirect-plugin.mjs");
    if (loaded.balancerLoaded) throw new Error("the balancer patched fetch before the redirect plugin was loaded");
    if (redirects.some((r) => r.event === "refused")) throw new Error("a request to a ChatGPT host was refused (no loopback target)");
    const outer = redirects.filter((r) => r.event === "redirect" && r.marker);
    if (outer.length) throw new Error(outer.length + " redirected request(s) still carried the balancer marker: the redirect ran above the balancer");
    if (!redirects.some((r) => r.event === "redirect" && r.path === "/backend-api/codex/responses")) throw new Error("no model request was redirected");
  '
}

# oauth_refresh_checks NAME FAMILY WHEN: FAMILY's token was refreshed once, by the sidecar,
# before WHEN; opencode refreshed nothing; auth.json ends live and unspent.
oauth_refresh_checks() {
  local name=$1 family=$2 when=$3
  oauth_check "$name" "${family%%-*} was refreshed before $when (no request with its expired token)" '
    const stale = responses.filter((l) => l.token === "expired" || l.token === "unknown");
    if (stale.length) throw new Error("sent with an expired or unknown token: " + show(stale));
  '
  oauth_check "$name" "exactly one refresh of ${family%%-*}'s token family reached the token endpoint, from the sidecar" '
    const family = refreshes.filter((l) => l.family === "'"$family"'");
    if (family.length !== 1 || family[0].outcome !== "issued" || family[0].via !== "direct") throw new Error("refreshes: " + show(refreshes));
  '
  oauth_check "$name" "opencode itself sent no refresh request" '
    const own = refreshes.filter((l) => l.via === "opencode");
    const seen = redirects.filter((r) => r.event === "redirect" && r.refresh);
    if (own.length || seen.length) throw new Error("opencode refreshed " + (own.length || seen.length) + " time(s): " + show(own));
  '
  oauth_check "$name" "opencode's auth.json holds a live credential with an unspent refresh token" '
    const auth = JSON.parse(require("fs").readFileSync("'"$XDG_DATA_HOME/opencode/auth.json"'", "utf8")).openai;
    if (!auth || auth.type !== "oauth") throw new Error("no openai oauth entry");
    if (!(auth.expires > Date.now() + 60000)) throw new Error("its token expires at " + new Date(auth.expires).toISOString());
    const m = /^rt-(.+)-(\d+)-FAKE$/.exec(auth.refresh ?? "");
    if (!m) throw new Error("its refresh token is not one the mock issued");
    const newest = Math.max(0, ...refreshes.filter((l) => l.family === m[1] && l.outcome === "issued").map((l) => l.newGen));
    if (Number(m[2]) !== newest) throw new Error("its refresh token (" + m[1] + " generation " + m[2] + ") is spent; the newest is " + newest);
  '
}

oauth_no_secrets() {
  local name=$1 shift_files
  shift
  shift_files=("$@")
  if grep -q -F -f "$OAUTH_SECRETS" "${shift_files[@]}" 2>/dev/null; then
    fail "$name: a token appears in $(grep -l -F -f "$OAUTH_SECRETS" "${shift_files[@]}" | xargs -n1 basename | tr '\n' ' ')"
  else
    pass "$name: no token in any of ${#shift_files[@]} outputs (opencode's, with the sidecar's log; the CLI's)"
  fi
}

oauth_wait_no_sidecars() {
  local pids
  for _ in $(seq 1 50); do
    pids=$(our_pids | while read -r p; do [ "$p" = "$MOCK_PID" ] || [ "$p" = "$OAUTH_MOCK_PID" ] || echo "$p"; done)
    [ -z "$pids" ] && return 0
    sleep 0.1
  done
  return 1
}

# --- baseline: bravo's token is valid ------------------------------------------

oauth_world oauth-fresh alpha bravo-valid
rc=0
oc oauth-fresh run "say hi" || rc=$?
if [ "$rc" -eq 0 ] && grep -q -F "$OAUTH_ANSWER" "$WORK/oauth-fresh.out"; then
  pass "oauth-fresh: opencode run printed the mock ChatGPT's answer"
else
  fail "oauth-fresh: opencode run (exit $rc) did not print the mock ChatGPT's answer"
  show oauth-fresh
fi
oauth_check_order oauth-fresh
oauth_check oauth-fresh "alpha was refused 429, then bravo answered 200 as bravo (its token, its account header)" '
  const first = responses[0];
  if (!first || first.account !== "alpha" || first.status !== 429) throw new Error("first request: " + show(responses.slice(0, 1)));
  const ok = responses.filter((l) => l.account === "bravo" && l.status === 200);
  if (!ok.length) throw new Error("no 200 for bravo: " + show(responses));
  const wrong = ok.filter((l) => l.accountHeader !== "acct-bravo-FAKE");
  if (wrong.length) throw new Error("bravo went out with chatgpt-account-id " + wrong.map((l) => l.accountHeader).join(","));
  if (responses.some((l) => l.via !== "opencode")) throw new Error("a model request did not come through opencode");
'
oauth_check oauth-fresh "no token refresh at all (nothing had expired)" '
  if (refreshes.length) throw new Error(show(refreshes));
'
oauth_wait_no_sidecars || fail "oauth-fresh: a sidecar outlived opencode: $(our_pids | tr '\n' ' ')"

# --- the case: bravo's token expired hours ago ------------------------------------

oauth_world oauth-expired alpha bravo-expired
rc=0
OPENCODE_BALANCER_DEBUG=1 OPENCODE_BALANCER_LOG=debug,opencode_balancer=trace oc oauth-expired run "say hi" || rc=$?
if [ "$rc" -eq 0 ] && grep -q -F "$OAUTH_ANSWER" "$WORK/oauth-expired.out"; then
  pass "oauth-expired: opencode run printed the mock ChatGPT's answer"
else
  fail "oauth-expired: opencode run (exit $rc) did not print the mock ChatGPT's answer"
  show oauth-expired
fi
oauth_check_order oauth-expired
oauth_check oauth-expired "the failover's request on bravo went out with a fresh token and was answered 200" '
  const first = responses[0];
  if (!first || first.account !== "alpha" || first.status !== 429) throw new Error("first request: " + show(responses.slice(0, 1)));
  const bravo = responses.filter((l) => l.account === "bravo");
  const ok = bravo.filter((l) => l.status === 200 && l.token === "fresh" && l.family === "bravo-expired");
  if (!ok.length) throw new Error("no 200 for bravo on a refreshed token: " + show(responses));
  if (ok.some((l) => l.accountHeader !== "acct-bravo-FAKE")) throw new Error("bravo went out with the wrong chatgpt-account-id");
'
oauth_refresh_checks oauth-expired bravo-expired "the failover handed it out"
oauth_wait_no_sidecars || fail "oauth-expired: a sidecar outlived opencode: $(our_pids | tr '\n' ' ')"

"$BIN" accounts list --json >"$WORK/oauth-expired-accounts.json" 2>"$WORK/oauth-expired-accounts.err" || true
if problem=$(check_json "$WORK/oauth-expired-accounts.json" '
  const accounts = list(data, "accounts").filter((a) => a.providerID === "openai");
  const bravo = accounts.find((a) => a.alias === "bravo");
  if (!bravo) throw new Error("no openai/bravo");
  if (bravo.loginRequired === true) throw new Error("bravo needs a new login");
  if (bravo.authFailed || bravo.cooldownReason === "auth_failed") throw new Error("bravo is marked auth-failed");
  if (bravo.coolingDownUntil !== null && bravo.coolingDownUntil > Date.now()) throw new Error("bravo cools down (" + bravo.cooldownReason + ")");
  if (bravo.tokenExpiresAt !== undefined && !(bravo.tokenExpiresAt > Date.now())) throw new Error("bravo'"'"'s token expires at " + bravo.tokenExpiresAt);
'); then
  pass "oauth-expired: accounts list --json: bravo healthy, its token live"
else
  fail "oauth-expired: accounts list --json: $problem $(head -c 300 "$WORK/oauth-expired-accounts.err")"
fi
"$BIN" events --json >"$WORK/oauth-expired-events.json" 2>"$WORK/oauth-expired-events.err" || true
if problem=$(check_json "$WORK/oauth-expired-events.json" '
  const types = list(data, "events").map((e) => e.type);
  for (const t of ["token_refreshed", "failover_performed"]) if (!types.includes(t)) throw new Error("no " + t + " among: " + types.join(", "));
  if (types.includes("token_refresh_failed")) throw new Error("a token_refresh_failed event");
'); then
  pass "oauth-expired: events --json has token_refreshed and failover_performed"
else
  fail "oauth-expired: events --json: $problem"
fi
oauth_no_secrets oauth-expired "$WORK"/oauth-*.out "$WORK"/oauth-*.err "$WORK"/oauth-expired-*.json "$WORK"/oauth-*-add-*.out

# --- opencode's own login expired: the sidecar refreshes it and writes it back first -------

oauth_world oauth-active charlie-expired
rc=0
OPENCODE_BALANCER_DEBUG=1 OPENCODE_BALANCER_LOG=debug,opencode_balancer=trace oc oauth-active run "say hi" || rc=$?
if [ "$rc" -eq 0 ] && grep -q -F "$OAUTH_ANSWER_CHARLIE" "$WORK/oauth-active.out"; then
  pass "oauth-active: opencode run printed the mock ChatGPT's answer"
else
  fail "oauth-active: opencode run (exit $rc) did not print the mock ChatGPT's answer"
  show oauth-active
fi
oauth_check_order oauth-active
oauth_check oauth-active "charlie's requests went out with a fresh token and were answered 200" '
  const ok = responses.filter((l) => l.account === "charlie" && l.status === 200 && l.token === "fresh");
  if (!ok.length || ok.length !== responses.length) throw new Error(show(responses));
'
oauth_refresh_checks oauth-active charlie-expired "opencode sent its first request"
oauth_wait_no_sidecars || fail "oauth-active: a sidecar outlived opencode: $(our_pids | tr '\n' ' ')"
oauth_no_secrets oauth-active "$WORK"/oauth-active.out "$WORK"/oauth-active.err "$WORK"/oauth-active-*.out

# --- done: the mock and the environment go, so later cases start clean ----------------

kill "$OAUTH_MOCK_PID" 2>/dev/null || true
wait "$OAUTH_MOCK_PID" 2>/dev/null || true
unset OCB_E2E_REDIRECT_URL OCB_E2E_REDIRECT_LOG OPENCODE_BALANCER_CHATGPT_ISSUER_URL \
  OPENCODE_BALANCER_CHATGPT_URL OPENCODE_BALANCER_OPENAI_URL
