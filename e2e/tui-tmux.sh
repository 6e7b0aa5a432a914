#!/usr/bin/env bash
# The TUI plugin in the real opencode under tmux: `opencode-balancer install` on a fresh HOME, the
# dashboard opened by Ctrl+B, `/balancer` and the palette, an activation, a reorder and the
# balancing toggle checked in the store, a CLI change seen without a key press, the sidebar line,
# Esc back to the typed prompt, no process left behind, and `uninstall` restoring tui.json.
#
#   e2e/tui-tmux.sh                 # after `cargo build --release`; opencode as in e2e/run.sh
#
# Environment: OPENCODE_BALANCER_BIN, E2E_CACHE (where opencode-ai@1.18.33 is installed),
# E2E_KEEP=1 (keep the temporary folder and screen dumps).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
E2E_CACHE=${E2E_CACHE:-$HOME/.cache/opencode-balancer-e2e}
OPENCODE="$E2E_CACHE/node_modules/.bin/opencode"
BIN=${OPENCODE_BALANCER_BIN:-target/release/opencode-balancer}
case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN" ;; esac
[ -x "$BIN" ] || { echo "FAIL: no binary at $BIN (cargo build --release)"; exit 1; }
[ -x "$OPENCODE" ] || { echo "FAIL: no opencode at $OPENCODE (e2e/run.sh installs it)"; exit 1; }
command -v tmux >/dev/null || { echo "FAIL: tmux is not installed"; exit 1; }

export OCB_E2E_RUN="ocb-tui-$$-$RANDOM"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ocb-tui.XXXXXX")
SOCK="$WORK/tmux.sock"
MOCK_PID=""
failures=0
checks=0

t() { tmux -S "$SOCK" "$@"; }
screen() { t capture-pane -p -t oc 2>/dev/null; }
keys() { t send-keys -t oc "$@"; }
pass() { checks=$((checks + 1)); printf 'PASS: %s\n' "$*"; }
fail() {
  checks=$((checks + 1)); failures=$((failures + 1))
  printf 'FAIL: %s\n' "$*"
  screen >"$WORK/screen-$checks.txt" || true
  sed 's/^/  | /' "$WORK/screen-$checks.txt" || true
}

our_pids() {
  local f pid
  for f in /proc/[0-9]*/environ; do
    pid=${f#/proc/}; pid=${pid%/environ}
    [ "$pid" = "$$" ] || [ "$pid" = "$BASHPID" ] || [ "$pid" = "$MOCK_PID" ] && continue
    if grep -qzx -F "OCB_E2E_RUN=$OCB_E2E_RUN" "$f" 2>/dev/null; then echo "$pid"; fi
  done
}

cleanup() {
  local status=$? pids
  t kill-server 2>/dev/null || true
  [ -z "$MOCK_PID" ] || kill "$MOCK_PID" 2>/dev/null || true
  pids=$(our_pids || true)
  # shellcheck disable=SC2086
  [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
  if [ "$failures" -eq 0 ] && [ "$status" -eq 0 ] && [ -z "${E2E_KEEP:-}" ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}
trap cleanup EXIT

# until_ok SECONDS CMD…: waits until CMD succeeds (e2e/until.sh).
. "$ROOT/e2e/until.sh"
on_screen() { screen | grep -qF -- "$1"; }
off_screen() { ! screen | grep -qF -- "$1"; }
check() { # what seconds cmd…
  local what=$1
  shift
  if until_ok "$@"; then pass "$what"; else fail "$what"; fi
}

# --- a fresh world --------------------------------------------------------------------------
unset OPENCODE_CONFIG OPENCODE_CONFIG_DIR OPENCODE_CONFIG_CONTENT OPENCODE_AUTH_CONTENT \
  OPENCODE_BALANCER_BIN OPENCODE_BALANCER_STORE OPENCODE_BALANCER_DISABLE OPENCODE_BALANCER_LOG
export HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/config" XDG_DATA_HOME="$WORK/data" \
  XDG_CACHE_HOME="$WORK/cache" XDG_STATE_HOME="$WORK/state" \
  OPENCODE_DISABLE_AUTOUPDATE=1 OPENCODE_DISABLE_MODELS_FETCH=1
mkdir -p "$HOME" "$XDG_CONFIG_HOME/opencode" "$XDG_DATA_HOME/opencode" "$WORK/project"
cli() { OPENCODE_BALANCER_LOG=error "$BIN" "$@"; }

node "$ROOT/e2e/mock-provider.mjs" --port-file "$WORK/mock.port" --log "$WORK/mock.log" >"$WORK/mock.out" 2>&1 &
MOCK_PID=$!
until_ok 10 test -s "$WORK/mock.port" || { fail "the mock provider did not start"; exit 1; }
PORT=$(cat "$WORK/mock.port")
cat >"$XDG_CONFIG_HOME/opencode/opencode.json" <<JSON
{
  "\$schema": "https://opencode.ai/config.json",
  "autoupdate": false,
  "share": "disabled",
  "provider": { "mock": { "npm": "@ai-sdk/openai-compatible", "name": "Mock",
    "options": { "baseURL": "http://127.0.0.1:$PORT/v1" },
    "models": { "m1": { "name": "M1" }, "m2": { "name": "M2" } } } },
  "model": "mock/m1"
}
JSON
printf '// my TUI settings\n{\n}\n' >"$XDG_CONFIG_HOME/opencode/tui.jsonc"
cp "$XDG_CONFIG_HOME/opencode/tui.jsonc" "$WORK/tui.jsonc.orig"
cp "$XDG_CONFIG_HOME/opencode/opencode.json" "$WORK/opencode.json.orig"
printf '{"mock":{"type":"api","key":"test-key-alpha-FAKE"}}\n' >"$XDG_DATA_HOME/opencode/auth.json"
printf %s test-key-alpha-FAKE | cli accounts add mock alpha >/dev/null
printf %s test-key-bravo-FAKE | cli accounts add mock bravo >/dev/null
cli accounts use mock alpha >/dev/null

cli install >"$WORK/install.out"
if grep -q "tui.jsonc" "$WORK/install.out" && grep -qF "opencode-balancer/package/tui/index.js" "$XDG_CONFIG_HOME/opencode/tui.jsonc"; then
  pass "install adds the TUI plugin to tui.jsonc"
else
  fail "install adds the TUI plugin to tui.jsonc: $(cat "$WORK/install.out")"
fi

# --- opencode under tmux, wider than 120 columns (the sidebar shows) -------------------------
t new-session -d -s oc -x 150 -y 45 -c "$WORK/project" \
  "env OCB_E2E_RUN=$OCB_E2E_RUN '$OPENCODE'; echo \$? >'$WORK/exit'; sleep 30"
check "opencode starts" 60 on_screen "Ask anything"

keys -l "hi"
keys Enter
check "the prompt is answered (a 429 on alpha, failover to bravo)" 60 on_screen "Hello from the mock provider"
check "the sidebar shows the session's account" 20 on_screen "Balancer mock/bravo"
# The provider's active account changes; the session stays on bravo (the one that answered).
cli accounts use mock alpha >/dev/null
sleep 1
check "the sidebar names the session's account (bravo), not the provider's active one (alpha)" 10 \
  sh -c "! tmux -S '$SOCK' capture-pane -p -t oc | grep -qF 'Balancer mock/alpha' && tmux -S '$SOCK' capture-pane -p -t oc | grep -qF 'Balancer mock/bravo'"

keys C-b
check "Ctrl+B opens the dashboard" 15 on_screen "Balancer  [accounts]"
check "both accounts are listed" 5 on_screen "bravo"
cli accounts use mock bravo >/dev/null
check "a change made by the CLI appears without a key press" 10 on_screen "● bravo"
active_is() { cli accounts list --json | node -e '
  const l = JSON.parse(require("fs").readFileSync(0, "utf8"));
  process.exit(l.some((a) => a.providerID === "mock" && a.alias === process.argv[1] && a.active) ? 0 : 1)' "$1"; }
keys Enter # the selection starts on the first account, alpha
check "Enter activates the selected account (store)" 10 active_is alpha
check "the activation toast says the running session stays on its account" 10 on_screen "stays"

keys r
check "R opens the rename prompt" 10 on_screen "Rename mock/alpha"
keys Escape
check "Esc on the rename prompt returns to the dashboard" 10 sh -c "tmux -S '$SOCK' capture-pane -p -t oc | grep -qF 'Balancer  [accounts]' && ! tmux -S '$SOCK' capture-pane -p -t oc | grep -qF 'Rename mock/alpha'"
keys d
check "D asks to confirm the removal" 10 on_screen "from the balancer?"
keys Escape
check "Esc on the confirmation returns to the dashboard" 10 sh -c "tmux -S '$SOCK' capture-pane -p -t oc | grep -qF 'Balancer  [accounts]' && ! tmux -S '$SOCK' capture-pane -p -t oc | grep -qF 'from the balancer?'"
keys -l "wqwq" # keys the dashboard does not use: they must not reach the prompt either
sleep 0.5
check "nothing was removed" 5 sh -c "'$BIN' accounts list --provider mock | grep -q alpha"

printf %s test-key-other-FAKE | cli accounts add other x --force >/dev/null
keys Tab
check "Tab shows the priority matrix" 10 on_screen "[priority]"
check "a provider added by the CLI enters the matrix live" 10 on_screen "other"
first_is() { [ "$(cli priority list --json | node -e '
  const l = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log(l.sort((a, b) => a.position - b.position)[0].providerID)')" = "$1" ]; }
keys Down
sleep 0.3
keys S-Up
check "Shift+Up moves the selected provider up (store)" 10 first_is other
keys b
check "B turns balancing on (store)" 10 sh -c "[ \"\$('$BIN' balancing status)\" = 'balancing on' ]"
check "the matrix shows balancing on" 5 on_screen "Balancing ON"

keys Escape
check "Esc closes the dashboard" 10 off_screen "[priority]"
check "keys typed in the dashboard after D then Esc did not reach the prompt" 5 off_screen "wqwq"
keys -l "draft text"
keys C-b
check "Ctrl+B opens it over the session" 10 on_screen "Balancer  [accounts]"
keys Escape
check "Esc goes back to the session" 10 off_screen "Balancer  [accounts]"
check "the typed prompt is intact" 5 on_screen "draft text"

keys C-u
keys -l "/balancer"
check "the slash list shows the TUI plugin's /balancer" 10 on_screen "Accounts, usage, priority and events"
check "and only that one: the server's balancer command (a skill) is not listed" 2 off_screen "opencode-balancer: accounts, failover"
keys Enter
check "/balancer + one Enter opens the dashboard" 15 on_screen "Balancer  [accounts]"
keys Escape
check "and Esc closes it" 10 off_screen "Balancer  [accounts]"

# A text subcommand: its answer is the reply in the session, and no model is asked.
requests=$(wc -l <"$WORK/mock.log")
keys C-u
keys -l "/balancer list"
sleep 0.5
keys Enter
check "/balancer list answers in the session" 15 sh -c "tmux -S '$SOCK' capture-pane -p -t oc | grep -qE 'alpha +api'"
check "without a model request" 2 sh -c "[ \"\$(wc -l <'$WORK/mock.log')\" -eq $requests ]"

keys C-p
sleep 1
keys -l "Open Balancer Dashboard"
sleep 1
keys Enter
check "the palette's Open Balancer Dashboard opens it" 15 on_screen "Balancer  [accounts]"
keys Escape
check "and Esc closes it again" 10 off_screen "Balancer  [accounts]"

keys C-u # an empty prompt: one Ctrl+C quits (a second one, once the terminal is back, would stop the pane's shell)
sleep 0.5
keys C-c
check "opencode exits on Ctrl+C" 20 test -s "$WORK/exit"
no_processes() { [ -z "$(our_pids)" ]; }
t kill-server 2>/dev/null || true
check "no process is left behind (opencode, both sidecars)" 10 no_processes

cli uninstall >"$WORK/uninstall.out"
if cmp -s "$WORK/tui.jsonc.orig" "$XDG_CONFIG_HOME/opencode/tui.jsonc" &&
  cmp -s "$WORK/opencode.json.orig" "$XDG_CONFIG_HOME/opencode/opencode.json"; then
  pass "uninstall restores tui.jsonc byte for byte (opencode.json untouched)"
else
  fail "uninstall restores tui.jsonc: $(cat "$WORK/uninstall.out")"
fi

echo "$((checks - failures))/$checks checks passed"
[ "$failures" -eq 0 ]
