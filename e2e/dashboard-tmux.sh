#!/usr/bin/env bash
# The real dashboard under tmux: a temporary store seeded with the CLI, keys pressed with
# send-keys, the screen read with capture-pane, the store checked with the CLI.
#
#   e2e/dashboard-tmux.sh           # after `cargo build --release`
#
# Environment:
#   OPENCODE_BALANCER_BIN  the binary under test (default target/release/opencode-balancer)
#   E2E_KEEP=1             keep the temporary folder (store, screen dumps) even when all pass
#
# Prints one PASS:/FAIL: line per check; exits non-zero when any check fails.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${OPENCODE_BALANCER_BIN:-target/release/opencode-balancer}
case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN" ;; esac
[ -x "$BIN" ] || { echo "FAIL: no binary at $BIN (cargo build --release)"; exit 1; }
command -v tmux >/dev/null || { echo "FAIL: tmux is not installed"; exit 1; }
command -v node >/dev/null || { echo "FAIL: node is needed to read the CLI's JSON"; exit 1; }

TMP=$(mktemp -d)
STORE="$TMP/balancer.sqlite"
SOCK="$TMP/tmux.sock"
failures=0
checks=0

pass() { checks=$((checks + 1)); printf 'PASS: %s\n' "$*"; }
fail() {
  checks=$((checks + 1)); failures=$((failures + 1))
  printf 'FAIL: %s\n' "$*"
  screen > "$TMP/screen-$checks.txt" 2>/dev/null || true
  sed 's/^/  | /' "$TMP/screen-$checks.txt" 2>/dev/null || true
}

cleanup() {
  tmux -S "$SOCK" kill-server 2>/dev/null || true
  if [ "$failures" -eq 0 ] && [ -z "${E2E_KEEP:-}" ]; then rm -rf "$TMP"; else echo "kept $TMP"; fi
}
trap cleanup EXIT

cli() { OPENCODE_BALANCER_LOG=error "$BIN" --store "$STORE" "$@"; }
t() { tmux -S "$SOCK" "$@"; }
screen() { t capture-pane -p -t dash; }
keys() { t send-keys -t dash "$@"; }
pane() { t display-message -p -t dash "$1"; }

# Waits (up to $2 seconds, default 5) until a check command succeeds.
until_ok() {
  local what=$1 limit=${2:-5}
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.05
  done
}
on_screen() { screen | grep -qF -- "$1"; }
off_screen() { ! screen | grep -qF -- "$1"; }
account_field() { # provider alias field -> the field as JSON, or "missing"
  cli accounts list --json | node -e '
    const [p, a, f] = process.argv.slice(1);
    const list = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const x = list.find(e => e.providerID === p && e.alias === a);
    console.log(x ? JSON.stringify(x[f]) : "missing");' "$@"
}
field_is() { [ "$(account_field "$1" "$2" "$3")" = "$4" ]; }
exists() { [ "$(account_field "$1" "$2" alias)" = "\"$2\"" ]; }
gone() { ! exists "$@"; }
dead() { [ "$(pane '#{pane_dead}')" = 1 ] && [ -f "$TMP/exit" ]; }
balancing_is() { [ "$(cli balancing status)" = "balancing $1" ]; }

# The dashboard runs under a shell that records its exit status (tmux's own pane_dead_status
# is sometimes left empty); its pid is the shell's only child.
# Each start gets a server of its own: a new server on the socket of one still exiting fails.
starts=0
start_dashboard() {
  t kill-server 2>/dev/null || true
  starts=$((starts + 1))
  SOCK="$TMP/tmux-$starts.sock"
  rm -f "$TMP/exit"
  t -f /dev/null new-session -d -s dash -x 100 -y 30 \
    -e NO_COLOR=1 -e TERM=xterm-256color -e OPENCODE_BALANCER_LOG=error \
    sh -c '"$0" --store "$1" dashboard; echo "$?" > "$2"' "$BIN" "$STORE" "$TMP/exit"
  t set-option -t dash remain-on-exit on
  until_ok "dashboard up" 10 on_screen "Accounts"
}
dashboard_pid() {
  local sh
  sh=$(pane '#{pane_pid}')
  cat "/proc/$sh/task/$sh/children" | awk '{print $1}'
}
exited_with() { [ -f "$TMP/exit" ] && [ "$(cat "$TMP/exit")" = "$1" ]; }
exit_status() { cat "$TMP/exit" 2>/dev/null || echo none; }

# --- seed the store with the CLI (openai/work saved last, so active)
echo "sk-dash-main-FAKE" | cli accounts add anthropic main >/dev/null
echo "sk-dash-spare-FAKE" | cli accounts add openai spare >/dev/null
echo "sk-dash-work-FAKE" | cli accounts add openai work >/dev/null
cli balancing off >/dev/null

# --- the main view
if start_dashboard && until_ok "accounts shown" 5 on_screen "work"; then
  pass "the dashboard shows the seeded accounts"
else
  fail "the dashboard did not show the seeded accounts"
fi
if on_screen "sk-dash"; then fail "a credential is on screen"; else pass "no credential on screen"; fi

# Rows: anthropic/main, openai/spare, openai/work. Activate spare.
keys Down Enter
if until_ok "spare active" 5 field_is openai spare active true && field_is openai work active false; then
  pass "Enter activated openai/spare (checked with the CLI)"
else
  fail "Enter did not activate openai/spare"
fi

keys b
if until_ok "balancing on" 5 balancing_is on && until_ok "shown" 3 on_screen "balancing ON"; then
  pass "b turned balancing on"
else
  fail "b did not turn balancing on"
fi

# Rename: an invalid alias shows the rule and changes nothing, then a valid one is saved normalized.
keys r BSpace BSpace BSpace BSpace BSpace
keys -l '!!!'
keys Enter
if until_ok "rule shown" 3 on_screen "an alias needs" && exists openai spare; then
  pass "an invalid alias is refused with the rule shown"
else
  fail "the alias rule was not shown"
fi
keys BSpace BSpace BSpace
keys -l 'Spare Two'
keys Enter
if until_ok "renamed" 5 exists openai spare-two && gone openai spare; then
  pass "r renamed openai/spare to spare-two (normalized)"
else
  fail "rename did not reach the store"
fi

# A change made by another process appears without a key press (timed from the CLI's start).
start=$(date +%s%N)
cli balancing off >/dev/null
if until_ok "live" 3 on_screen "balancing off  failover"; then
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  if [ "$ms" -le 1000 ]; then pass "a CLI change appeared on screen in ${ms} ms"; else fail "a CLI change took ${ms} ms"; fi
else
  fail "a CLI change never appeared on screen"
fi

# Disable then enable with e (cursor is on spare-two).
keys e
if until_ok "disabled" 5 field_is openai spare-two disabled true; then pass "e disabled the account"; else fail "e did not disable"; fi
until_ok "shown disabled" 3 on_screen "disabled" || true
keys e
if until_ok "enabled" 5 field_is openai spare-two disabled false; then pass "e enabled it again"; else fail "e did not enable"; fi

# The priority matrix, help and connect overlays.
keys p
if until_ok "priority" 3 on_screen "Priority matrix"; then pass "p opens the priority matrix"; else fail "p did not open the matrix"; fi
# Escape is sent alone and its effect awaited: Escape and a key in one write read as Alt+key.
keys Escape
until_ok "back" 3 on_screen "Accounts" || true
keys '?'
if until_ok "help" 3 on_screen "Keys (Esc closes)"; then pass "? opens the help"; else fail "? did not open the help"; fi
keys Escape
until_ok "help closed" 3 off_screen "Keys (Esc closes)" || true

# Remove asks first.
keys Up d
until_ok "confirm" 3 on_screen "Remove " || true
keys y
if until_ok "removed" 5 gone anthropic main; then pass "d + y removed anthropic/main"; else fail "d + y did not remove"; fi

# q quits with status 0 and leaves the alternate screen (the dashboard is no longer shown).
keys q
if until_ok "exited" 5 dead && exited_with 0 &&
  [ "$(pane '#{alternate_on}')" = 0 ] && off_screen "┌ Accounts"; then
  pass "q quits with status 0 and restores the screen"
else
  fail "q did not quit cleanly (dead=$(pane '#{pane_dead}') status=$(exit_status) alt=$(pane '#{alternate_on}'))"
fi

# Ctrl+C quits cleanly too; SIGTERM with 128 + 15 (tests/it/dashboard/lifecycle.rs covers the other
# signals and a terminal that goes away).
start_dashboard
keys C-c
if until_ok "exited" 5 dead && exited_with 0 &&
  [ "$(pane '#{alternate_on}')" = 0 ]; then
  pass "Ctrl+C quits with status 0 and restores the screen"
else
  fail "Ctrl+C did not quit cleanly (dead=$(pane '#{pane_dead}') status=$(exit_status) alt=$(pane '#{alternate_on}'))"
fi
start_dashboard
kill -TERM "$(dashboard_pid)"
if until_ok "exited" 5 dead && exited_with 143 && [ "$(pane '#{alternate_on}')" = 0 ]; then
  pass "SIGTERM quits with status 143 and restores the screen"
else
  fail "SIGTERM did not quit cleanly (dead=$(pane '#{pane_dead}') status=$(exit_status) alt=$(pane '#{alternate_on}'))"
fi

# Without a terminal the dashboard refuses clearly instead of drawing into a pipe.
if out=$(cli dashboard </dev/null 2>&1 | cat); [[ "$out" == *"needs a terminal"* ]]; then
  pass "without a terminal it says it needs one"
else
  fail "without a terminal: $out"
fi

echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
