#!/usr/bin/env bash
# End to end with the real opencode: the installed plugin, the release binary,
# temporary HOME/XDG folders and a mock provider on 127.0.0.1.
#
#   e2e/run.sh                      # from anywhere; see e2e/README.md
#
# Environment:
#   OPENCODE_BALANCER_BIN  the binary under test (default target/release/opencode-balancer)
#   E2E_CACHE              where opencode-ai@1.18.33 is npm-installed and reused
#                          (default ~/.cache/opencode-balancer-e2e)
#   E2E_RUN_TIMEOUT        seconds allowed to each opencode run (default 120)
#   E2E_KEEP=1             keep the temporary folder even when everything passes
set -euo pipefail

# shellcheck source=e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ -x "$BIN" ] || die "no binary at $BIN (cargo build --release, or set OPENCODE_BALANCER_BIN)"
pass "binary $BIN"

# --- scenario 1: two accounts, the first rate-limited -----------------------

world main
write_config
write_auth "$ALPHA" # opencode's own login is the account that is rate-limited
failover_accounts

"$BIN" install >"$WORK/install.out" 2>&1 || die "install: $(cat "$WORK/install.out")"
PLUGIN_FILES=$(grep -l -s "opencode-balancer" "$XDG_CONFIG_HOME"/opencode/plugin/*.js "$XDG_CONFIG_HOME"/opencode/plugins/*.js || true)
BIN_REAL=$(readlink -f "$BIN")
# shellcheck disable=SC2086
if [ -n "$PLUGIN_FILES" ] && grep -q -F -e "$BIN" -e "$BIN_REAL" $PLUGIN_FILES; then
  pass "install wrote the plugin ($(basename "$PLUGIN_FILES")) pointing at the binary"
else
  show install
  die "install did not write a plugin pointing at $BIN into $XDG_CONFIG_HOME/opencode/plugin/"
fi

"$BIN" install >"$WORK/install-again.out" 2>&1 || fail "a second install failed: $(cat "$WORK/install-again.out")"
n=$({ grep -l -s "opencode-balancer" "$XDG_CONFIG_HOME"/opencode/plugin/*.js "$XDG_CONFIG_HOME"/opencode/plugins/*.js || true; } | wc -l)
if [ "$n" -eq 1 ]; then pass "install is idempotent (one plugin file)"; else fail "after two installs there are $n plugin files"; fi

failover_run

"$BIN" accounts list --json >"$WORK/accounts.json" 2>"$WORK/accounts.err" || true
if problem=$(check_json "$WORK/accounts.json" '
  const accounts = list(data, "accounts");
  const alpha = accounts.find((a) => a.providerID === "mock" && a.alias === "alpha");
  const bravo = accounts.find((a) => a.providerID === "mock" && a.alias === "bravo");
  if (!alpha || !bravo) throw new Error("alpha or bravo missing");
  if (typeof alpha.coolingDownUntil !== "number" || alpha.coolingDownUntil <= Date.now()) throw new Error("alpha is not cooling down: " + alpha.coolingDownUntil);
  if (bravo.coolingDownUntil !== null) throw new Error("bravo cools down too");
'); then
  pass "accounts list --json: alpha cooling down, bravo healthy"
else
  fail "accounts list --json: $problem $(head -c 300 "$WORK/accounts.err")"
fi
if grep -q -e "$ALPHA" -e "$BRAVO" "$WORK/accounts.json"; then fail "accounts list --json shows a credential"; fi

"$BIN" events --json >"$WORK/events.json" 2>"$WORK/events.err" || true
if problem=$(check_json "$WORK/events.json" '
  const events = list(data, "events");
  if (!events.some((e) => e.type === "failover_performed")) throw new Error("event types: " + events.map((e) => e.type).join(", "));
'); then
  pass "events --json has failover_performed"
else
  fail "events --json: $problem $(head -c 300 "$WORK/events.err")"
fi
if grep -q -e "$ALPHA" -e "$BRAVO" "$WORK/events.json"; then fail "events --json shows a credential"; fi

if grep -q '"balancer_command"' "$WORK/mock.log"; then
  pass "the balancer_command tool is offered to the model"
else
  fail "no balancer_command among the tools the model was offered"
fi

# The agent tool, called by the (mock) model: its output comes back to the model.
: >"$WORK/mock.log"
rc=0
oc run-tool run "use the balancer tool" || rc=$?
if [ "$rc" -eq 0 ] && grep -q "^Tool output:" "$WORK/run-tool.out" &&
  grep -q alpha "$WORK/run-tool.out" && grep -q bravo "$WORK/run-tool.out"; then
  pass "the model called balancer_command and got the account list"
else
  fail "balancer_command through the model (exit $rc)"
  show run-tool
fi

# /balancer list: answered by the sidecar in the session, no model request, exit 0
# (see ANSWER_KEY in plugin/command.js).
: >"$WORK/mock.log"
rc=0
oc command-list run --command balancer list || rc=$?
if [ "$rc" -eq 0 ] && grep -q alpha "$WORK/command-list.out" && grep -q bravo "$WORK/command-list.out" && [ ! -s "$WORK/mock.log" ]; then
  pass "opencode run --command balancer list lists alpha and bravo (exit $rc)"
else
  fail "opencode run --command balancer list (exit $rc) did not list alpha and bravo"
  show command-list
fi
if [ ! -s "$WORK/mock.log" ]; then
  pass "/balancer list sent no model request"
else
  fail "/balancer list reached the provider: $(mock_keys | tr '\n' ' ')"
fi

if "$BIN" uninstall >"$WORK/uninstall.out" 2>&1 &&
  ! grep -q -s "opencode-balancer" "$XDG_CONFIG_HOME"/opencode/plugin/*.js "$XDG_CONFIG_HOME"/opencode/plugins/*.js; then
  pass "uninstall removed the plugin"
else
  fail "uninstall left the plugin in place"
  show uninstall
fi

# --- scenario 2: the plugin installed, the binary nowhere --------------------

world nobinary
write_config
write_auth "$BRAVO" # opencode's own credential works on its own
# Install from a copy of the binary, then delete the copy: the installed
# plugin now points at a path that does not exist.
mkdir -p "$WORK/gone"
cp "$BIN" "$WORK/gone/opencode-balancer"
"$WORK/gone/opencode-balancer" install >"$WORK/install-gone.out" 2>&1 || die "install (copy): $(cat "$WORK/install-gone.out")"
rm -rf "$WORK/gone"
if grep -q -s -F "$WORK/gone/opencode-balancer" "$XDG_CONFIG_HOME"/opencode/plugin/*.js "$XDG_CONFIG_HOME"/opencode/plugins/*.js; then
  pass "a plugin installed that points at a deleted binary"
else
  fail "the copy's install did not point the plugin at $WORK/gone/opencode-balancer"
fi

: >"$WORK/mock.log"
rc=0
OPENCODE_BALANCER_BIN="$WORK/nowhere/opencode-balancer" oc run-nobin run "say hi" || rc=$?
if [ "$rc" -eq 0 ] && grep -q -F "$ANSWER" "$WORK/run-nobin.out"; then
  pass "without a binary, opencode still answers"
else
  fail "without a binary, opencode run (exit $rc) did not answer"
  show run-nobin
fi
if [ "$(mock_keys | sort -u)" = "$BRAVO" ]; then
  pass "without a binary, requests went out with opencode's own credential"
else
  fail "without a binary the mock saw: $(mock_keys | tr '\n' ' ')"
fi
n=$(grep -c "opencode-balancer is unavailable" "$WORK/run-nobin.err" || true)
if [ "$n" -eq 1 ]; then
  pass "one warning about the missing binary"
else
  fail "expected one warning about the missing binary on stderr, saw $n"
  show run-nobin
fi

# --- the token keeper: a failover to an idle ChatGPT login whose token expired --------------
# shellcheck source=e2e/token-keeper.sh
. "$ROOT/e2e/token-keeper.sh"
# --- scenario 3: a provider runs dry mid-turn --------------------------------
# Two OpenAI-compatible providers on the mock (first, second), one account each;
# the first one's only key refuses with a long Retry-After (or is out of quota).

CHARLIE=test-key-charlie-FAKE
DELTA=test-key-delta-FAKE
QUOTA=test-key-quota-FAKE
SECOND_ANSWER="Hello from the second provider, via charlie."

write_two_providers() {
  cat >"$XDG_CONFIG_HOME/opencode/opencode.json" <<EOF
{
  "\$schema": "https://opencode.ai/config.json",
  "autoupdate": false,
  "share": "disabled",
  "provider": {
    "first": {
      "npm": "@ai-sdk/openai-compatible",
      "name": "First",
      "options": { "baseURL": "http://127.0.0.1:$PORT/first/v1" },
      "models": { "f1": { "name": "F1" } }
    },
    "second": {
      "npm": "@ai-sdk/openai-compatible",
      "name": "Second",
      "options": { "baseURL": "http://127.0.0.1:$PORT/second/v1" },
      "models": { "s1": { "name": "S1" } }
    }
  },
  "model": "first/f1"
}
EOF
}

# turn_world NAME FIRST_KEY SECOND_KEY on|off: accounts `one` (first) and `two` (second), first
# then second in the priority list, balancing as given, the plugin installed.
turn_world() {
  world "$1"
  write_two_providers
  printf '{"first":{"type":"api","key":"%s"},"second":{"type":"api","key":"%s"}}\n' "$2" "$3" \
    >"$XDG_DATA_HOME/opencode/auth.json"
  chmod 600 "$XDG_DATA_HOME/opencode/auth.json"
  printf %s "$2" | "$BIN" accounts add first one >"$WORK/$1-add1.out" 2>&1 || die "accounts add first: $(cat "$WORK/$1-add1.out")"
  printf %s "$3" | "$BIN" accounts add second two >"$WORK/$1-add2.out" 2>&1 || die "accounts add second: $(cat "$WORK/$1-add2.out")"
  "$BIN" priority model first f1 >"$WORK/$1-prio.out" 2>&1 || die "priority model first f1: $(cat "$WORK/$1-prio.out")"
  "$BIN" priority model second s1 >"$WORK/$1-prio.out" 2>&1 || die "priority model second s1: $(cat "$WORK/$1-prio.out")"
  "$BIN" balancing "$4" >"$WORK/$1-bal.out" 2>&1 || die "balancing $4: $(cat "$WORK/$1-bal.out")"
  "$BIN" install >"$WORK/$1-install.out" 2>&1 || die "install: $(cat "$WORK/$1-install.out")"
}

# timed_run NAME ARGS…: oc, with the milliseconds it took in $took and its exit status in $rc.
timed_run() {
  local start
  start=$(date +%s%N)
  rc=0
  oc "$@" || rc=$?
  took=$((($(date +%s%N) - start) / 1000000))
}

said() { grep -q -E "$1" "$WORK/$2.out" "$WORK/$2.err"; }

turn_world turn-on "$ALPHA" "$CHARLIE" on
# The baseline: the same prompt sent straight to the second provider (opencode's own start-up
# and answer time on this machine).
timed_run turn-base run -m second/s1 "say hi"
base=$took
# Every case below runs in a fresh world like the baseline: it must end within the baseline and
# ten seconds (opencode's own retries would take 66 s for a quota refusal, 10 min for
# `Retry-After: 120`).
limit=$((base + 10000))
"$BIN" accounts reset second two >/dev/null 2>&1 || true
: >"$WORK/mock.log"
timed_run turn-on run "say hi"
n=$(grep -c -F "$SECOND_ANSWER" "$WORK/turn-on.out" || true)
if [ "$rc" -eq 0 ] && [ "$n" -eq 1 ] && [ "$took" -lt $((base + 5000)) ]; then
  pass "balancing on, first provider dry: opencode run printed the second provider's answer once, in ${took} ms (straight to the second provider: ${base} ms)"
else
  fail "balancing on, first provider dry: exit $rc, answer printed $n times, ${took} ms"
  show turn-on
fi
if problem=$(check_json "$WORK/mock.log" '
  const moved = (lines ?? []).filter((l) => l.key === "'"$CHARLIE"'");
  const refused = (lines ?? []).filter((l) => l.key === "'"$ALPHA"'");
  if (!refused.length || !refused.every((l) => l.path === "/first/v1/chat/completions")) throw new Error("the first provider was not asked first: " + JSON.stringify(refused));
  if (!moved.length) throw new Error("nothing reached the second provider");
  for (const l of moved) {
    if (l.path !== "/second/v1/chat/completions") throw new Error("moved to " + l.path);
    if (l.model !== "s1") throw new Error("moved with model " + l.model);
    if (l.status !== 200) throw new Error("the second provider answered " + l.status);
  }
'); then
  pass "the refused request went to the second provider's URL with its key and model s1"
else
  fail "the moved request: $problem"
fi
"$BIN" events --json >"$WORK/turn-on-events.json" 2>&1 || true
if problem=$(check_json "$WORK/turn-on-events.json" '
  const e = list(data, "events").find((e) => e.type === "provider_switched");
  if (!e) throw new Error("no provider_switched event");
  if (e.metadata.from !== "first" || e.metadata.to !== "second") throw new Error(JSON.stringify(e.metadata));
'); then
  pass "events --json has provider_switched first → second"
else
  fail "events: $problem"
fi

turn_world turn-off "$ALPHA" "$CHARLIE" off
: >"$WORK/mock.log"
timed_run turn-off run "say hi"
if [ "$rc" -ne 0 ] && [ "$took" -lt "$limit" ] && said "every account of first is resting" turn-off &&
  said "one until [0-9]{2}:[0-9]{2} UTC \(in 2 min\)" turn-off; then
  pass "balancing off, first provider dry: ended in ${took} ms naming when the account is back"
else
  fail "balancing off: exit $rc after ${took} ms"
  show turn-off
fi
if ! grep -q -F "$CHARLIE" "$WORK/mock.log"; then
  pass "balancing off: no provider switch the user did not ask for"
else
  fail "balancing off: the second provider was used"
fi

turn_world turn-quota "$QUOTA" "$CHARLIE" off
: >"$WORK/mock.log"
timed_run turn-quota run "say hi"
if [ "$rc" -ne 0 ] && [ "$took" -lt "$limit" ] && said "one out of quota" turn-quota; then
  pass "insufficient_quota: ended in ${took} ms with the balancer's message"
else
  fail "insufficient_quota: exit $rc after ${took} ms"
  show turn-quota
fi

turn_world turn-both "$ALPHA" "$DELTA" on
: >"$WORK/mock.log"
timed_run turn-both run "say hi"
requests=$(wc -l <"$WORK/mock.log")
# The prompt and opencode's title request race: whichever reaches the balancer second finds both
# providers resting before anything is sent; either way the message says no provider is left.
if [ "$rc" -ne 0 ] && [ "$took" -lt "$limit" ] && [ "$requests" -le 6 ] &&
  said "every account of (first|second) is resting" turn-both &&
  said "No other provider of the priority list has a model and a healthy account" turn-both; then
  pass "both providers dry: a clean end in ${took} ms after $requests requests, no loop"
else
  fail "both providers dry: exit $rc after ${took} ms, $requests requests"
  show turn-both
fi

finish
