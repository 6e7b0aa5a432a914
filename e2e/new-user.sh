#!/usr/bin/env bash
# A new user's first hour, scripted: a fresh HOME, the README's first install route from this
# clone exactly as written (`cargo install --locked --path .`, then `opencode-balancer install`),
# `doctor`, a failover and a provider switch with the real opencode 1.18.33 against the mock
# provider, `/balancer` once, and `uninstall` leaving the HOME as it was.
#
#   e2e/new-user.sh                 # after `cargo build --release --locked` (cargo install reuses it)
#
# Environment: as e2e/lib.sh. OPENCODE_BALANCER_BIN is not used: the binary under test is the
# one `cargo install` puts into the fresh HOME (its install root, CARGO_INSTALL_ROOT, is the
# fresh HOME's ~/.cargo; the toolchain and the crates already downloaded stay where they are).
set -euo pipefail

# The toolchain and the registry cache of the caller, before HOME changes.
export CARGO_HOME=${CARGO_HOME:-$HOME/.cargo} RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}

# shellcheck source=e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v cargo >/dev/null || die "cargo is required (the README's first route builds from the clone)"

world newuser
export CARGO_INSTALL_ROOT="$HOME/.cargo"
export PATH="$HOME/.cargo/bin:$PATH"
BACKUP_ANSWER="Hello from the second provider, via charlie."
CHARLIE=test-key-charlie-FAKE

# --- the README's first route, exactly as written -------------------------------------------

route=$(sed -n '/^\*\*From a clone\*\*/,/^```$/{/^```sh$/,/^```$/p}' "$ROOT/README.md" | sed -n '2,3p' | sed 's/ *#.*//')
expected=$'cargo install --locked --path .\nopencode-balancer install'
[ "$route" = "$expected" ] || die "the README's first route is not what this walk runs: $route"
(cd "$ROOT" && timeout 1800 cargo install --locked --path .) >"$WORK/cargo-install.out" 2>&1 ||
  die "cargo install --locked --path .: $(tail -n 20 "$WORK/cargo-install.out")"
BIN=$(command -v opencode-balancer || true)
if [ "$BIN" = "$HOME/.cargo/bin/opencode-balancer" ]; then
  pass "cargo install --locked --path . put opencode-balancer on PATH ($BIN)"
else
  die "opencode-balancer on PATH is '$BIN', not the one cargo install wrote"
fi

# opencode.json: the mock provider (two accounts, the first rate-limited) and a backup provider.
write_config
node -e '
  const fs = require("fs");
  const [file, port] = process.argv.slice(1);
  const config = JSON.parse(fs.readFileSync(file, "utf8"));
  config.provider.backup = {
    npm: "@ai-sdk/openai-compatible",
    name: "Backup",
    options: { baseURL: `http://127.0.0.1:${port}/second/v1` },
    models: { b1: { name: "B1" } },
  };
  fs.writeFileSync(file, JSON.stringify(config, null, 2) + "\n");
' "$XDG_CONFIG_HOME/opencode/opencode.json" "$PORT"
write_auth "$ALPHA"

opencode-balancer install >"$WORK/install.out" 2>&1 || die "opencode-balancer install: $(cat "$WORK/install.out")"
pass "opencode-balancer install: $(grep -c . "$WORK/install.out") lines, no error"

# --- doctor ---------------------------------------------------------------------------------

rc=0
opencode-balancer doctor >"$WORK/doctor.out" 2>&1 || rc=$?
opencode-balancer doctor --json >"$WORK/doctor.json" 2>&1 || true
if [ "$rc" -eq 0 ] && problem=$(check_json "$WORK/doctor.json" '
  if (data.route !== "plugin-folder") throw new Error("route " + data.route);
  if (!data.ok) throw new Error("not ok");
'); then
  pass "doctor exits 0 and names the route (plugin-folder)"
else
  fail "doctor (exit $rc): ${problem:-} $(head -c 600 "$WORK/doctor.out")"
fi

# --- names are checked -------------------------------------------------------------------------

if ! printf %s "$CHARLIE" | opencode-balancer accounts add bakcup b1 >"$WORK/typo.out" 2>&1 &&
  grep -q "unknown provider bakcup; did you mean backup?" "$WORK/typo.out"; then
  pass "accounts add bakcup: refused, did you mean backup?"
else
  fail "accounts add bakcup: $(cat "$WORK/typo.out")"
fi

# --- a failover --------------------------------------------------------------------------------

failover_accounts
failover_run

# --- a provider switch: mock runs dry mid-turn (alpha refuses again, bravo disabled), and
# backup takes the turn ----------------------------------------------------------------------

printf %s "$CHARLIE" | opencode-balancer accounts add backup b1 >"$WORK/add-b1.out" 2>&1 ||
  die "accounts add backup b1: $(cat "$WORK/add-b1.out")"
{
  opencode-balancer accounts reset mock alpha &&
    opencode-balancer accounts use mock alpha &&
    opencode-balancer accounts disable mock bravo &&
    opencode-balancer priority model mock m1 &&
    opencode-balancer priority model backup b1 &&
    opencode-balancer balancing on
} >"$WORK/switch-setup.out" 2>&1 || die "provider switch setup: $(cat "$WORK/switch-setup.out")"
: >"$WORK/mock.log"
rc=0
oc run-switch run "say hi" || rc=$?
if [ "$rc" -eq 0 ] && grep -q -F "$BACKUP_ANSWER" "$WORK/run-switch.out"; then
  pass "mock dry, balancing on: opencode run printed backup/b1's answer"
else
  fail "provider switch: exit $rc, no answer from backup"
  show run-switch
fi
if problem=$(check_json "$WORK/mock.log" '
  const [first, ...rest] = lines ?? [];
  if (!first || first.key !== "'"$ALPHA"'" || first.path !== "/v1/chat/completions") throw new Error("mock/alpha was not asked first: " + JSON.stringify(first));
  const moved = rest.filter((l) => l.key === "'"$CHARLIE"'");
  if (!moved.length || moved.some((l) => l.path !== "/second/v1/chat/completions" || l.model !== "b1")) throw new Error(JSON.stringify(rest));
'); then
  pass "the turn went to mock/alpha (429), then to backup with its key and model b1"
else
  fail "the switched requests: $problem"
fi
opencode-balancer events --type provider_switched --json >"$WORK/switch-events.json" 2>&1 || true
if problem=$(check_json "$WORK/switch-events.json" '
  const e = list(data, "events")[0];
  if (!e || e.metadata.from !== "mock" || e.metadata.to !== "backup") throw new Error(JSON.stringify(e));
'); then
  pass "events --type provider_switched: mock → backup"
else
  fail "provider switch event: $problem"
fi

# --- /balancer once ----------------------------------------------------------------------------
# Answered in the session with no model request; exits 0 (plugin/command.js, ANSWER_KEY).
rc=0
oc balancer-list run --command balancer list || rc=$?
if [ "$rc" -eq 0 ] && grep -q "alpha" "$WORK/balancer-list.out"; then
  pass "opencode run --command balancer list exits 0 and lists the accounts"
else
  fail "opencode run --command balancer list: exit $rc"
  show balancer-list
fi
wait_no_sidecars || fail "sidecars left after opencode exited"

# --- uninstall: the HOME as it was, but for the store and what opencode itself wrote ----------

opencode-balancer uninstall >"$WORK/uninstall.out" 2>&1 || fail "uninstall: $(cat "$WORK/uninstall.out")"
if [ ! -e "$XDG_CONFIG_HOME/opencode/plugin/opencode-balancer.js" ] && [ ! -e "$XDG_DATA_HOME/opencode-balancer" ] &&
  ! grep -q "opencode-balancer" "$XDG_CONFIG_HOME/opencode/tui.json" 2>/dev/null; then
  pass "uninstall took the plugin, the TUI plugin and its folders away"
else
  fail "uninstall left: $(cat "$WORK/uninstall.out")"
fi

[ "$failures" -eq 0 ] || exit 1
echo "new-user walk passed"
