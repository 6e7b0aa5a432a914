# Shared by the end-to-end scripts (sourced; they `set -euo pipefail` first): the pass/fail
# tally, the cleanup of every process they start, opencode 1.18.33 installed into E2E_CACHE, a
# private world (HOME, XDG folders, project) per scenario, the mock provider on 127.0.0.1, and the
# failover scenario (two accounts, the first rate-limited) as functions. e2e/run.sh runs it with
# the plugin `install` wrote; e2e/npm.sh with the plugin and binary npm installed.
#
# Environment:
#   OPENCODE_BALANCER_BIN  the binary under test (default target/release/opencode-balancer)
#   E2E_CACHE              where opencode-ai@1.18.33 is npm-installed and reused
#                          (default ~/.cache/opencode-balancer-e2e)
#   E2E_RUN_TIMEOUT        seconds allowed to each opencode run (default 120)
#   E2E_KEEP=1             keep the temporary folder even when everything passes

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
E2E_SCRIPT=${E2E_SCRIPT:-$(basename "$0")}
trap 'printf "FAIL: unexpected error (exit %s) at %s line %s\n" "$?" "$E2E_SCRIPT" "$LINENO"' ERR

# --- opencode itself -------------------------------------------------------

command -v node >/dev/null || die "node is required"
command -v npm >/dev/null || die "npm is required"

# install_opencode CACHE PACKAGE@VERSION VERSION_LINE: npm-installs PACKAGE@VERSION into CACHE
# unless `CACHE/node_modules/.bin/opencode --version` already prints VERSION_LINE; sets OPENCODE.
install_opencode() {
  local cache=$1 spec=$2 want=$3
  OPENCODE="$cache/node_modules/.bin/opencode"
  if [ ! -x "$OPENCODE" ] || [ "$(timeout 60 "$OPENCODE" --version 2>/dev/null | tail -n1)" != "$want" ]; then
    echo "installing $spec into $cache"
    mkdir -p "$cache"
    # A package.json of its own: without one npm installs into the nearest folder above that has
    # one (E2E_CACHE holds opencode 1's), and opencode 2 would replace opencode 1's `opencode`.
    [ -f "$cache/package.json" ] || echo '{ "private": true }' >"$cache/package.json"
    (cd "$cache" && timeout 900 npm install --no-audit --no-fund --loglevel=error "$spec") ||
      die "npm install $spec failed"
  fi
  [ "$(timeout 60 "$OPENCODE" --version 2>/dev/null | tail -n1)" = "$want" ] || die "opencode at $OPENCODE is not $want"
}

# E2E_HOST=v2 (e2e/v2.sh): opencode 2 instead, installed by the script itself.
if [ "${E2E_HOST:-v1}" = v1 ]; then
  install_opencode "$E2E_CACHE" "opencode-ai@$OPENCODE_VERSION" "$OPENCODE_VERSION"
  pass "opencode $OPENCODE_VERSION at $OPENCODE"
fi


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

# write_config [PLUGIN_ARRAY]: opencode.json with the mock provider (and that "plugin" array).
write_config() {
  local plugin=""
  if [ -n "${1:-}" ]; then plugin=$'\n  "plugin": '"$1,"; fi
  cat >"$XDG_CONFIG_HOME/opencode/opencode.json" <<EOF
{
  "\$schema": "https://opencode.ai/config.json",$plugin
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


# --- the failover scenario: two accounts, the first rate-limited ------------

# failover_accounts: alpha and bravo saved for the mock provider with "$BIN", alpha active.
failover_accounts() {
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
}

# failover_run: opencode run "say hi" answered by bravo after alpha's 429, the body re-sent
# unchanged, and no sidecar left once opencode exits.
failover_run() {
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
}

# until_ok SECONDS CMD…: e2e/until.sh.
. "$ROOT/e2e/until.sh"

finish() {  echo
  if [ "$failures" -eq 0 ]; then
    echo "e2e: all checks passed"
  else
    echo "e2e: $failures check(s) failed"
    exit 1
  fi
}
