#!/usr/bin/env bash
# End to end with opencode 2 (@opencode/cli 2.1.2, npm-installed into a cache like e2e/lib.sh
# does for opencode 1), a loopback mock provider and a private HOME/XDG/TMPDIR, `--standalone` on
# every opencode command (no background service), anything left running killed by PID:
#   1. `opencode-balancer install` finds opencode 2 on PATH and names the package folder in
#      "plugins"; opencode 2 loads the plugin with no load error in its log;
#   2. two credentials for the mock (`opencode auth import`), the first answering 429: one
#      `opencode run` prints the second one's answer within seconds (not after V2's 120 s wait);
#   3. `opencode-balancer accounts list` shows both credentials;
#   4. under tmux, the TUI: Ctrl+B, `/balancer` + one Enter and the palette's "Open Balancer
#      Dashboard" each open the dashboard listing both;
#   5. `uninstall` gives opencode.jsonc back byte for byte; with both lines configured
#      (`--host both`), the TUI still gets the dashboard;
#   6. the npm package (npm/build.mjs, npm-installed) named by path in "plugins": loaded, no error.
#
#   e2e/v2.sh                       # after `cargo build --release`
#
# Environment: as e2e/lib.sh, plus E2E_V2_CACHE (where @opencode/cli@2.1.2 is npm-installed and
# reused; default $E2E_CACHE/v2) and E2E_FAILOVER_SECONDS (what "within seconds" means; default 30).
set -euo pipefail

export E2E_HOST=v2
# shellcheck source=e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

V2_VERSION=2.1.2
install_opencode "${E2E_V2_CACHE:-$E2E_CACHE/v2}" "@opencode/cli@$V2_VERSION" "opencode v$V2_VERSION"
pass "opencode $V2_VERSION at $OPENCODE"
V2_BIN_DIR=$(dirname "$OPENCODE")
FAILOVER_SECONDS=${E2E_FAILOVER_SECONDS:-30}
# A run that fails over ends in seconds; one that waits on V2's own 120 s backoff is cut short.
RUN_TIMEOUT=${E2E_RUN_TIMEOUT:-$((FAILOVER_SECONDS + 30))}
[ -x "$BIN" ] || die "no binary at $BIN (cargo build --release)"
command -v tmux >/dev/null || die "tmux is not installed"
export OPENCODE_DISABLE_MODELS_FETCH=1

# v2_world NAME: lib.sh's world plus a private TMPDIR, opencode 2 on PATH (install finds it there),
# and opencode.jsonc with the mock provider (no key: the credentials come from opencode.db).
v2_world() {
  world "$1"
  export TMPDIR="$WORK/$1/tmp"
  mkdir -p "$TMPDIR"
  export PATH="$V2_BIN_DIR:$ORIGINAL_PATH"
  cat >"$XDG_CONFIG_HOME/opencode/opencode.jsonc" <<EOF
{
  // the user's own settings, kept byte for byte
  "autoupdate": false,
  "share": "disabled",
  "model": "mock/m1",
  "provider": {
    "mock": {
      "npm": "@ai-sdk/openai-compatible",
      "name": "Mock",
      "options": { "baseURL": "http://127.0.0.1:$PORT/v1" },
      "models": { "m1": { "name": "M1" } }
    }
  }
}
EOF
  cp "$XDG_CONFIG_HOME/opencode/opencode.jsonc" "$WORK/$1/opencode.jsonc.orig"
  V2_LOG="$XDG_DATA_HOME/opencode/log/opencode.log"
  PKG_DIR="$XDG_DATA_HOME/opencode-balancer/package"
}
ORIGINAL_PATH=$PATH

# services_left: our `opencode serve` processes still running (a command without --standalone
# would leave `opencode serve --service`); each is killed by PID.
services_left() {
  local pid left=""
  for pid in $(our_pids); do
    [ "$pid" = "$MOCK_PID" ] && continue
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q " serve"; then
      left="$left $pid"
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  [ -z "$left" ] || echo "$left"
}
check_no_services() {
  local left
  left=$(services_left)
  if [ -z "$left" ]; then pass "$1: no opencode serve left running"; else fail "$1: opencode serve left running (killed:$left)"; fi
}

# plugin_loaded WHAT TARGET: opencode 2's log says it loaded TARGET and no plugin failed to load.
plugin_loaded() {
  if grep -q "msg=\"loading plugin\" id=$2 " "$V2_LOG" 2>/dev/null; then
    pass "$1: opencode 2 loaded $2"
  else
    fail "$1: no \"loading plugin\" line for $2 in $V2_LOG"
  fi
  if grep -q 'failed to load plugin' "$V2_LOG" 2>/dev/null; then
    fail "$1: a plugin load error in opencode 2's log"
    grep 'failed to load plugin' "$V2_LOG" | head -n 3 | cut -c1-400 | sed 's/^/    /'
  else
    pass "$1: no plugin load error in opencode 2's log"
  fi
}

# import_credentials: alpha (answers 429, active) and bravo (answers) for the mock, in opencode.db.
import_credentials() {
  printf '[{"id":"cred_alpha","integrationID":"mock","label":"alpha","active":true,"value":{"type":"key","key":"%s"}},{"id":"cred_bravo","integrationID":"mock","label":"bravo","active":false,"value":{"type":"key","key":"%s"}}]' \
    "$ALPHA" "$BRAVO" >"$WORK/creds.json"
  if (cd "$PROJECT" && timeout 60 "$OPENCODE" auth import --standalone <"$WORK/creds.json") >"$WORK/import.out" 2>&1 &&
    grep -q "Imported 2 credentials" "$WORK/import.out"; then
    pass "opencode auth import --standalone saved alpha and bravo"
  else
    fail "opencode auth import: $(head -c 400 "$WORK/import.out")"
  fi
  rm -f "$WORK/creds.json"
}

# run_hi NAME: one `opencode run --standalone "say hi"`; RUN_SECONDS is how long it took.
run_hi() {
  local start=$SECONDS rc=0
  : >"$WORK/mock.log"
  oc "$1" run --standalone "say hi" || rc=$?
  RUN_SECONDS=$((SECONDS - start))
  RUN_RC=$rc
}

# --- 1-3. `install`, then a failover in one run, then the accounts --------------------------

v2_world v2-install
"$BIN" install >"$WORK/install.out" 2>&1 || die "install: $(cat "$WORK/install.out")"
if grep -q "opencode 2: $V2_BIN_DIR/opencode --version" "$WORK/install.out" &&
  grep -qF "\"plugins\": [\"$PKG_DIR\"]" "$XDG_CONFIG_HOME/opencode/opencode.jsonc"; then
  pass "install found opencode 2 on PATH and named $PKG_DIR in \"plugins\""
else
  fail "install did not configure opencode 2"
  show install
fi
if [ -f "$PKG_DIR/package.json" ] && [ -f "$PKG_DIR/index.js" ] && [ -f "$PKG_DIR/tui/index.js" ]; then
  pass "the package folder holds package.json, the root index.js and tui/index.js"
else
  fail "the package folder is incomplete: $(ls -R "$PKG_DIR" 2>&1 | head -c 400)"
fi
if "$BIN" doctor --json >"$WORK/doctor.json" 2>/dev/null; then :; fi
if problem=$(check_json "$WORK/doctor.json" '
  if (!data.hosts || !data.hosts.v2) throw new Error("doctor did not find opencode 2");
  if (!data.hosts.v2Install.configured) throw new Error("doctor: opencode 2 not configured");
'); then
  pass "doctor --json: opencode 2 found and configured"
else
  fail "doctor --json: $problem"
fi

import_credentials
run_hi v2-run
plugin_loaded "install" "$PKG_DIR"
if [ "$RUN_RC" -eq 0 ] && grep -qF "$ANSWER" "$WORK/v2-run.out" && [ "$RUN_SECONDS" -le "$FAILOVER_SECONDS" ]; then
  pass "one opencode run printed bravo's answer after alpha's 429, in ${RUN_SECONDS}s"
else
  fail "opencode run (exit $RUN_RC, ${RUN_SECONDS}s, limit ${FAILOVER_SECONDS}s) did not print bravo's answer in time"
  show v2-run
fi
keys=$(mock_keys | tr '\n' ' ')
if mock_keys | grep -qx "$ALPHA" && mock_keys | grep -qx "$BRAVO"; then
  pass "the mock saw alpha refused and bravo answer ($keys)"
else
  fail "the mock saw: ${keys:-nothing} (expected alpha, then bravo)"
fi
check_no_services "after opencode run --standalone"

"$BIN" accounts list --json >"$WORK/accounts.json" 2>"$WORK/accounts.err" || true
if problem=$(check_json "$WORK/accounts.json" '
  const names = list(data, "accounts").filter((a) => a.providerID === "mock").map((a) => a.alias).sort().join(",");
  if (names !== "alpha,bravo") throw new Error("mock accounts: [" + names + "]");
'); then
  pass "opencode-balancer accounts list shows both of opencode 2's credentials"
else
  fail "accounts list: ${problem:-$(head -c 300 "$WORK/accounts.err")}"
fi
if grep -q -e "$ALPHA" -e "$BRAVO" "$WORK/accounts.json" "$WORK/install.out" "$WORK/v2-run.out" "$WORK/v2-run.err"; then
  fail "a credential was printed"
fi

# --- 4. the TUI under tmux ----------------------------------------------------------------

SOCK="$WORK/tmux.sock"
t() { tmux -S "$SOCK" "$@"; }
screen() { t capture-pane -p -t oc 2>/dev/null; }
keys() { t send-keys -t oc "$@"; }
on_screen() { screen | grep -qF -- "$1"; }
off_screen() { ! screen | grep -qF -- "$1"; }
dashboard_lists_both() { on_screen "Balancer" && on_screen "alpha" && on_screen "bravo"; }
tui_check() { # what seconds cmd…
  local what=$1
  shift
  if until_ok "$@"; then
    pass "TUI: $what"
  else
    fail "TUI: $what"
    screen | sed 's/^/  | /' || true
  fi
}
DASHBOARD="Balancer  [accounts]"

# ctrl_b_shows_dashboard: presses Ctrl+B unless the dashboard is up, then looks for it (3 s). The
# TUI paints "Ask anything" before its plugins have registered their keys, and a key pressed
# then is dropped: pressing again until it opens is what a user does, and it proves the plugin
# has registered, so the checks after it do not race the loading.
ctrl_b_shows_dashboard() {
  on_screen "$DASHBOARD" && return 0
  keys C-b
  until_ok 3 on_screen "$DASHBOARD"
}

# tui_start NAME / tui_stop NAME: opencode 2's TUI in the world's project under tmux, and out again
# (Ctrl+C, then nothing of ours left running).
tui_start() {
  rm -f "$WORK/$1-exit"
  t new-session -d -s oc -x 150 -y 45 -c "$PROJECT" \
    "env OCB_E2E_RUN=$OCB_E2E_RUN TMPDIR='$TMPDIR' '$OPENCODE' --standalone; echo \$? >'$WORK/$1-exit'; sleep 30"
  tui_check "$1: opencode 2 starts" 60 on_screen "Ask anything"
}
tui_stop() {
  keys Escape
  keys C-u
  keys C-c
  until_ok 10 test -s "$WORK/$1-exit" || keys C-c
  tui_check "$1: opencode 2 exits" 20 test -s "$WORK/$1-exit"
  t kill-server 2>/dev/null || true
  check_no_services "$1: after the TUI"
}

tui_start tui
tui_check "Ctrl+B opens the dashboard" 30 ctrl_b_shows_dashboard
tui_check "the dashboard lists alpha and bravo" 10 dashboard_lists_both
keys Escape
tui_check "Esc closes it" 10 off_screen "$DASHBOARD"
keys -l "/balancer"
until_ok 5 on_screen "/balancer" || true
keys Enter
tui_check "/balancer + one Enter opens the dashboard" 15 on_screen "$DASHBOARD"
tui_check "listing both" 10 dashboard_lists_both
keys Escape
tui_check "Esc closes it" 10 off_screen "$DASHBOARD"
keys C-u
keys C-p
until_ok 5 on_screen "Commands" || true
keys -l "Open Balancer Dashboard"
until_ok 5 on_screen "Open Balancer Dashboard" || true
keys Enter
tui_check "the palette's Open Balancer Dashboard opens it" 15 on_screen "$DASHBOARD"
tui_check "listing both" 10 dashboard_lists_both
tui_stop tui

# --- 5. uninstall --------------------------------------------------------------------------

"$BIN" uninstall >"$WORK/uninstall.out" 2>&1 || fail "uninstall: $(cat "$WORK/uninstall.out")"
if cmp -s "$WORK/v2-install/opencode.jsonc.orig" "$XDG_CONFIG_HOME/opencode/opencode.jsonc"; then
  pass "uninstall restored opencode.jsonc byte for byte"
else
  fail "uninstall left opencode.jsonc changed: $(diff "$WORK/v2-install/opencode.jsonc.orig" "$XDG_CONFIG_HOME/opencode/opencode.jsonc" | head -n 5)"
fi
if [ ! -e "$PKG_DIR/index.js" ] && [ ! -e "$XDG_CONFIG_HOME/opencode/plugin/opencode-balancer.js" ]; then
  pass "uninstall removed the files install wrote"
else
  fail "uninstall left: $(ls "$PKG_DIR" "$XDG_CONFIG_HOME/opencode/plugin" 2>/dev/null | tr '\n' ' ')"
fi

# --- 5b. both lines configured: opencode 2 loads the plugin-folder file and the package ---------

# The plugin-folder file (opencode 1's route, which opencode 2 loads as well) must not hide the
# package, which alone brings the TUI plugin (docs/hosts.md).
v2_world v2-both
"$BIN" install --host both >"$WORK/install-both.out" 2>&1 || fail "install --host both: $(cat "$WORK/install-both.out")"
import_credentials
tui_start both
tui_check "both lines: Ctrl+B opens the dashboard in opencode 2" 30 ctrl_b_shows_dashboard
tui_stop both
plugin_loaded "both lines" "$PKG_DIR"
"$BIN" uninstall >"$WORK/uninstall-both.out" 2>&1 || fail "uninstall (both): $(cat "$WORK/uninstall-both.out")"
if cmp -s "$WORK/v2-both/opencode.jsonc.orig" "$XDG_CONFIG_HOME/opencode/opencode.jsonc"; then
  pass "both lines: uninstall restored opencode.jsonc byte for byte"
else
  fail "both lines: uninstall left opencode.jsonc changed"
fi

# --- 6. the npm package, named by path in "plugins" ------------------------------------------

DIST="$WORK/dist"
if node "$ROOT/npm/build.mjs" --binary "$BIN" --out "$DIST" >"$WORK/build.out" 2>&1; then
  mapfile -t TARBALLS < <(sed -n 's/^packed //p' "$WORK/build.out")
  SCRATCH="$WORK/scratch"
  mkdir -p "$SCRATCH"
  printf '{ "private": true }\n' >"$SCRATCH/package.json"
  if (cd "$SCRATCH" && timeout 300 npm install --no-audit --no-fund --loglevel=error "${TARBALLS[@]}") \
    >"$WORK/npm-install.out" 2>&1; then
    pass "npm installed the packed packages"
  else
    fail "npm install of the tarballs: $(head -c 400 "$WORK/npm-install.out")"
  fi
  NPM_PKG="$SCRATCH/node_modules/opencode-balancer"
  v2_world v2-npm
  node -e '
    const fs = require("fs"), [file, pkg] = process.argv.slice(1);
    const text = fs.readFileSync(file, "utf8");
    fs.writeFileSync(file, text.replace(/\{/, "{\n  \"plugins\": [" + JSON.stringify(pkg) + "],"));
  ' "$XDG_CONFIG_HOME/opencode/opencode.jsonc" "$NPM_PKG"
  import_credentials
  # No cargo-built binary: the plugin finds the platform package's.
  PATH=$(printf %s "$PATH" | tr ':' '\n' | grep -vxF "$(dirname "$BIN")" | paste -sd:) run_hi v2-npm-run
  plugin_loaded "npm package" "$NPM_PKG"
  if [ "$RUN_RC" -eq 0 ] && grep -qF "$ANSWER" "$WORK/v2-npm-run.out" && [ "$RUN_SECONDS" -le "$FAILOVER_SECONDS" ]; then
    pass "npm package: opencode run printed bravo's answer in ${RUN_SECONDS}s"
  else
    fail "npm package: opencode run (exit $RUN_RC, ${RUN_SECONDS}s) did not print bravo's answer in time"
    show v2-npm-run
  fi
  check_no_services "npm package run"
else
  fail "npm/build.mjs: $(head -c 400 "$WORK/build.out")"
fi

finish
