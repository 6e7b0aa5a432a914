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

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OPENCODE_VERSION=1.18.33
E2E_CACHE=${E2E_CACHE:-$HOME/.cache/opencode-balancer-e2e}
RUN_TIMEOUT=${E2E_RUN_TIMEOUT:-120}
BIN=${OPENCODE_BALANCER_BIN:-target/release/opencode-balancer}
case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN" ;; esac

ALPHA=test-key-alpha-FAKE
BRAVO=test-key-bravo-FAKE
ANSWER="Hello from the mock provider, via bravo."

failures=0
pass() { printf 'PASS: %s\n' "$*"; }
fail() {
  printf 'FAIL: %s\n' "$*"
  failures=$((failures + 1))
}
note() { printf '  %s\n' "$*"; }
die() {
  fail "$*"
  exit 1
}

# Every process this script starts carries this mark, so the cleanup finds
# exactly them (opencode, the sidecars opencode starts, the mock) and nothing else.
export OCB_E2E_RUN="ocb-e2e-$$-$RANDOM"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ocb-e2e.XXXXXX")
MOCK_PID=""

our_pids() {
  local f pid
  for f in /proc/[0-9]*/environ; do
    pid=${f#/proc/}
    pid=${pid%/environ}
    [ "$pid" = "$$" ] && continue
    [ "$pid" = "$BASHPID" ] && continue
    if grep -qzx -F "OCB_E2E_RUN=$OCB_E2E_RUN" "$f" 2>/dev/null; then echo "$pid"; fi
  done
}

cleanup() {
  local status=$? pids
  trap - EXIT INT TERM
  if [ -n "$MOCK_PID" ]; then kill "$MOCK_PID" 2>/dev/null || true; fi
  pids=$(our_pids || true)
  if [ -n "$pids" ]; then
    # shellcheck disable=SC2086
    kill $pids 2>/dev/null || true
    sleep 1
    pids=$(our_pids || true)
    # shellcheck disable=SC2086
    [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
  fi
  if [ "$failures" -eq 0 ] && [ "$status" -eq 0 ] && [ "${E2E_KEEP:-0}" != 1 ]; then
    rm -rf "$WORK"
  else
    echo "kept $WORK for inspection"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
set -E
trap 'printf "FAIL: unexpected error (exit %s) at e2e/run.sh line %s\n" "$?" "$LINENO"' ERR

# --- opencode itself -------------------------------------------------------

command -v node >/dev/null || die "node is required"
command -v npm >/dev/null || die "npm is required"
OPENCODE="$E2E_CACHE/node_modules/.bin/opencode"
installed_version() { timeout 60 "$OPENCODE" --version 2>/dev/null | tail -n1 || true; }
if [ ! -x "$OPENCODE" ] || [ "$(installed_version)" != "$OPENCODE_VERSION" ]; then
  echo "installing opencode-ai@$OPENCODE_VERSION into $E2E_CACHE"
  mkdir -p "$E2E_CACHE"
  (cd "$E2E_CACHE" && timeout 900 npm install --no-audit --no-fund --loglevel=error "opencode-ai@$OPENCODE_VERSION") ||
    die "npm install opencode-ai@$OPENCODE_VERSION failed"
fi
[ "$(installed_version)" = "$OPENCODE_VERSION" ] || die "opencode at $OPENCODE is not $OPENCODE_VERSION"
pass "opencode $OPENCODE_VERSION at $OPENCODE"

[ -x "$BIN" ] || die "no binary at $BIN (cargo build --release, or set OPENCODE_BALANCER_BIN)"
pass "binary $BIN"

# --- a private world: HOME, XDG folders, project, mock provider --------------

# Nothing from the caller's opencode or balancer setup leaks in.
unset OPENCODE_CONFIG OPENCODE_CONFIG_DIR OPENCODE_CONFIG_CONTENT OPENCODE_AUTH_CONTENT \
  OPENCODE_BALANCER_BIN OPENCODE_BALANCER_STORE OPENCODE_BALANCER_DISABLE OPENCODE_BALANCER_LOG
export OPENCODE_DISABLE_AUTOUPDATE=1

# world NAME: points HOME and the XDG folders at $WORK/NAME.
world() {
  local w="$WORK/$1"
  mkdir -p "$w/home" "$w/config/opencode" "$w/data/opencode" "$w/cache" "$w/state" "$w/project"
  export HOME="$w/home" XDG_CONFIG_HOME="$w/config" XDG_DATA_HOME="$w/data" \
    XDG_CACHE_HOME="$w/cache" XDG_STATE_HOME="$w/state"
  PROJECT="$w/project"
}

node "$ROOT/e2e/mock-provider.mjs" --port-file "$WORK/mock.port" --log "$WORK/mock.log" \
  >"$WORK/mock.out" 2>&1 &
MOCK_PID=$!
for _ in $(seq 1 100); do
  [ -s "$WORK/mock.port" ] && break
  kill -0 "$MOCK_PID" 2>/dev/null || die "the mock provider exited: $(cat "$WORK/mock.out")"
  sleep 0.1
done
[ -s "$WORK/mock.port" ] || die "the mock provider did not start"
PORT=$(cat "$WORK/mock.port")
pass "mock provider on 127.0.0.1:$PORT"

write_config() {
  cat >"$XDG_CONFIG_HOME/opencode/opencode.json" <<EOF
{
  "\$schema": "https://opencode.ai/config.json",
  "autoupdate": false,
  "share": "disabled",
  "provider": {
    "mock": {
      "npm": "@ai-sdk/openai-compatible",
      "name": "Mock",
      "options": { "baseURL": "http://127.0.0.1:$PORT/v1" },
      "models": { "m1": { "name": "M1" } }
    }
  },
  "model": "mock/m1"
}
EOF
}

# write_auth KEY: opencode's own credential for the mock provider.
write_auth() {
  printf '{"mock":{"type":"api","key":"%s"}}\n' "$1" >"$XDG_DATA_HOME/opencode/auth.json"
  chmod 600 "$XDG_DATA_HOME/opencode/auth.json"
}

# oc NAME ARGS…: runs opencode in the project folder, bounded; output in $WORK/NAME.{out,err}.
oc() {
  local name=$1 rc=0
  shift
  (cd "$PROJECT" && timeout --kill-after=10 "$RUN_TIMEOUT" "$OPENCODE" "$@") \
    >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null || rc=$?
  return "$rc"
}

show() {
  local f
  for f in "$WORK/$1.out" "$WORK/$1.err"; do
    [ -e "$f" ] || continue
    note "--- $(basename "$f")"
    tail -n 20 "$f" | sed 's/^/    /' || true
  done
}

# check_json FILE CODE: runs CODE with `data` = FILE's JSON (`lines` = its JSON
# lines when it is not one document); prints the problem and fails when CODE throws.
check_json() {
  node -e '
    const fs = require("fs");
    const text = fs.readFileSync(process.argv[1], "utf8");
    let data, lines;
    try { data = JSON.parse(text); } catch { lines = text.split("\n").filter(Boolean).map((l) => JSON.parse(l)); }
    const list = (d, key) => (Array.isArray(d) ? d : d && Array.isArray(d[key]) ? d[key] : []);
    new Function("data", "lines", "list", process.argv[2])(data, lines, list);
  ' "$1" "$2" 2>&1 | sed -n '/^\(Error\|SyntaxError\|TypeError\): /{s/^[A-Za-z]*: //;p;q}'
  return "${PIPESTATUS[0]}"
}

mock_keys() { node -e 'for (const l of require("fs").readFileSync(process.argv[1], "utf8").split("\n")) if (l) console.log(JSON.parse(l).key)' "$WORK/mock.log"; }

# wait_no_sidecars: opencode's sidecars exit on EOF when opencode ends.
wait_no_sidecars() {
  local pids
  for _ in $(seq 1 50); do
    pids=$(our_pids | while read -r p; do [ "$p" = "$MOCK_PID" ] || echo "$p"; done)
    [ -z "$pids" ] && return 0
    sleep 0.1
  done
  return 1
}

# --- scenario 1: two accounts, the first rate-limited -----------------------

world main
write_config
write_auth "$ALPHA" # opencode's own login is the account that is rate-limited

printf %s "$ALPHA" | "$BIN" accounts add mock alpha >"$WORK/add-alpha.out" 2>&1 ||
  die "accounts add mock alpha: $(cat "$WORK/add-alpha.out")"
printf %s "$BRAVO" | "$BIN" accounts add mock bravo >"$WORK/add-bravo.out" 2>&1 ||
  die "accounts add mock bravo: $(cat "$WORK/add-bravo.out")"
# Saving makes an account the active one: alpha goes first.
"$BIN" accounts use mock alpha >"$WORK/use-alpha.out" 2>&1 || die "accounts use mock alpha: $(cat "$WORK/use-alpha.out")"
"$BIN" accounts list --json >"$WORK/accounts-saved.json" 2>&1 || die "accounts list --json: $(cat "$WORK/accounts-saved.json")"
if problem=$(check_json "$WORK/accounts-saved.json" '
  const accounts = list(data, "accounts");
  const names = accounts.filter((a) => a.providerID === "mock").map((a) => a.alias).sort().join(",");
  if (names !== "alpha,bravo") throw new Error("mock accounts: [" + names + "]");
  if (!accounts.find((a) => a.alias === "alpha").active) throw new Error("alpha is not the active account");
'); then
  pass "two accounts saved with the CLI (credentials read from stdin), alpha active"
else
  die "the saved accounts are not right: $problem"
fi
if grep -q -e "$ALPHA" -e "$BRAVO" "$WORK"/add-*.out "$WORK/use-alpha.out" "$WORK/accounts-saved.json"; then
  fail "the CLI printed a credential"
fi

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

: >"$WORK/mock.log"
rc=0
oc run-hi run "say hi" || rc=$?
if [ "$rc" -eq 0 ] && grep -q -F "$ANSWER" "$WORK/run-hi.out"; then
  pass "opencode run printed the mock's answer"
else
  fail "opencode run (exit $rc) did not print the mock's answer"
  show run-hi
fi

keys=$(mock_keys | tr '\n' ' ')
first=$(mock_keys | head -n1)
if [ "$first" = "$ALPHA" ] && mock_keys | tail -n +2 | grep -qx "$BRAVO"; then
  pass "the mock saw alpha, then bravo ($keys)"
else
  fail "the mock saw: ${keys:-nothing} (expected alpha first, then bravo)"
fi
# opencode may send its title request beside the prompt, so two requests can fail over at once:
# every request re-sent on bravo must carry the body of one alpha refused.
if problem=$(check_json "$WORK/mock.log" '
  const sizes = (key) => (lines ?? []).filter((l) => l.key === key).map((l) => l.bodyBytes).sort((x, y) => x - y);
  const [alpha, bravo] = [sizes("'"$ALPHA"'"), sizes("'"$BRAVO"'")];
  if (!alpha.length || !bravo.length) throw new Error("no request on alpha or none on bravo");
  // Requests that started after alpha cooled down go straight to bravo; every one alpha refused
  // must be among bravo'"'"'s, body for body.
  const left = [...bravo];
  for (const size of alpha) {
    const i = left.indexOf(size);
    if (i < 0) throw new Error("alpha got " + alpha + " bytes, bravo " + bravo);
    left.splice(i, 1);
  }
'); then
  pass "each re-sent request carried the body alpha refused"
else
  fail "re-sent requests differ: $problem"
fi
if grep -q '"key":"test-key-bravo-FAKE","status":200' "$WORK/mock.log"; then
  pass "bravo's request was answered 200"
else
  fail "no 200 answer for bravo in the mock log"
fi

if wait_no_sidecars; then pass "no sidecar left running after opencode exited"; else fail "a sidecar outlived opencode: $(our_pids | tr '\n' ' ')"; fi

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

# /balancer list: answered by the sidecar, no model request. opencode 1.18.33
# prints the answer and exits 1 (the hook stops the prompt by throwing; see
# the comment on presentCommandOutput in plugin/index.js).
: >"$WORK/mock.log"
rc=0
oc command-list run --command balancer list || rc=$?
if [ "$rc" -le 1 ] && grep -q alpha "$WORK/command-list.out" && grep -q bravo "$WORK/command-list.out"; then
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

echo
if [ "$failures" -eq 0 ]; then
  echo "e2e: all checks passed"
else
  echo "e2e: $failures check(s) failed"
  exit 1
fi
