#!/usr/bin/env bash
# End to end as an npm user installs it: npm/build.mjs packs the two packages from the release
# binary, npm installs the tarballs into a scratch folder, and the real opencode 1.18.33, pointed
# at the package inside that node_modules (one entry in each config, resolved through the
# package's exports, as `opencode plugin` writes them), runs the failover scenario of
# e2e/run.sh with no cargo-built binary on PATH, OPENCODE_BALANCER_BIN unset and no `install` run:
# the binary has to come from the platform package. Then the TUI plugin's dashboard in opencode
# under tmux, the package's command, and `install --npm` / `uninstall --npm` through it.
#
#   e2e/npm.sh                      # after `cargo build --release`; see e2e/README.md
#
# Environment: as e2e/lib.sh (OPENCODE_BALANCER_BIN names the binary that is packed, and is
# unset before opencode runs).
set -euo pipefail

# shellcheck source=e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ -x "$BIN" ] || die "no binary at $BIN to pack (cargo build --release)"

# --- the packages, packed and installed with npm ------------------------------

DIST="$WORK/dist"
node "$ROOT/npm/build.mjs" --binary "$BIN" --out "$DIST" >"$WORK/build.out" 2>&1 ||
  die "npm/build.mjs: $(cat "$WORK/build.out")"
mapfile -t TARBALLS < <(sed -n 's/^packed //p' "$WORK/build.out")
if [ "${#TARBALLS[@]}" -eq 2 ]; then
  pass "npm/build.mjs packed $(for t in "${TARBALLS[@]}"; do basename "$t"; done | tr '\n' ' ')"
else
  die "npm/build.mjs did not pack two packages: $(cat "$WORK/build.out")"
fi

SCRATCH="$WORK/scratch"
mkdir -p "$SCRATCH"
printf '{ "private": true }\n' >"$SCRATCH/package.json"
(cd "$SCRATCH" && timeout 300 npm install --no-audit --no-fund --loglevel=error "${TARBALLS[@]}") \
  >"$WORK/npm-install.out" 2>&1 || die "npm install of the tarballs: $(cat "$WORK/npm-install.out")"
PKG="$SCRATCH/node_modules/opencode-balancer"
mapfile -t PLATFORM_BINS < <(ls -d "$SCRATCH"/node_modules/opencode-balancer-*/bin/opencode-balancer 2>/dev/null)
if [ -f "$PKG/plugin/index.js" ] && [ -f "$PKG/tui/index.js" ] && [ "${#PLATFORM_BINS[@]}" -eq 1 ] &&
  [ -x "${PLATFORM_BINS[0]}" ]; then
  pass "npm installed opencode-balancer and $(basename "$(dirname "$(dirname "${PLATFORM_BINS[0]}")")")"
else
  die "npm installed: $(ls "$SCRATCH/node_modules" | tr '\n' ' ')"
fi
PKG_BIN="${PLATFORM_BINS[0]}"
SHIM="$SCRATCH/node_modules/.bin/opencode-balancer"
version=$(node -p 'require(process.argv[1]).version' "$PKG/package.json")
if [ "$("$SHIM" --version 2>&1)" = "opencode-balancer $version" ]; then
  pass "the package's command runs the platform package's binary (npx opencode-balancer --version)"
else
  fail "node_modules/.bin/opencode-balancer --version: $("$SHIM" --version 2>&1 | head -c 300)"
fi

# --- no other binary anywhere -------------------------------------------------

clean_path=""
IFS=: read -r -a path_dirs <<<"$PATH"
for d in "${path_dirs[@]}"; do
  [ -n "$d" ] && [ ! -e "$d/opencode-balancer" ] && case "$d" in "$ROOT"/*) false ;; esac || continue
  clean_path="${clean_path:+$clean_path:}$d"
done
export PATH="$clean_path"
unset OPENCODE_BALANCER_BIN
if ! command -v opencode-balancer >/dev/null; then
  pass "no opencode-balancer on PATH, OPENCODE_BALANCER_BIN unset"
else
  die "opencode-balancer is still on PATH: $(command -v opencode-balancer)"
fi

# --- the failover scenario, the plugin from node_modules ----------------------

# opencode's own one-liner (`opencode plugin opencode-balancer --global`, here with the installed
# folder instead of the registry name): it reads the package's exports and names the package in
# both configs. Then the failover scenario on configs naming the package folder, so opencode
# resolves the server plugin and the TUI plugin from the package's `./server` and `./tui` exports
# as it does for an npm name.
world npm-plugin-command
if oc plugin-command plugin "$PKG" --global &&
  grep -q "Detected server + tui targets" "$WORK/plugin-command.out" &&
  grep -q -F "\"$PKG\"" "$XDG_CONFIG_HOME"/opencode/opencode.json* &&
  grep -q -F "\"$PKG\"" "$XDG_CONFIG_HOME"/opencode/tui.json*; then
  pass "opencode plugin <package> --global found the server and TUI exports and named it in both configs"
else
  fail "opencode plugin <package> --global: $(tail -c 600 "$WORK/plugin-command.out" "$WORK/plugin-command.err")"
fi

world npm
write_config "[\"$PKG\"]"
printf '{ "plugin": ["%s"] }\n' "$PKG" >"$XDG_CONFIG_HOME/opencode/tui.json"
write_auth "$ALPHA"
BIN="$PKG_BIN" # the accounts are saved with the CLI the package holds
failover_accounts

# The plugin says which binary it started, and how it found it, on stderr in debug mode.
export OPENCODE_BALANCER_DEBUG=1
failover_run
unset OPENCODE_BALANCER_DEBUG
started=$(grep -h -o "started [^ ]* (found via [^)]*)" "$WORK/run-hi.err" "$WORK/run-hi.out" | head -n1 || true)
if [ "$started" = "started $PKG_BIN (found via the platform package)" ]; then
  pass "the sidecar was the platform package's binary: ${started#started }"
else
  fail "the plugin did not start the platform package's binary (${started:-no 'started' line})"
  show run-hi
fi
if [ ! -e "$XDG_CONFIG_HOME/opencode/plugin" ] && [ ! -e "$XDG_DATA_HOME/opencode-balancer" ]; then
  pass "nothing installed outside node_modules (no install run)"
else
  fail "something wrote plugin files: $(ls "$XDG_CONFIG_HOME/opencode" "$XDG_DATA_HOME" | tr '\n' ' ')"
fi

# The TUI entry in the real opencode under tmux: the dashboard opens on Ctrl+B with the accounts
# the platform package's sidecar reads (skipped without tmux; e2e/tui-tmux.sh covers the rest).
if command -v tmux >/dev/null; then
  SOCK="$WORK/tmux.sock"
  tm() { tmux -S "$SOCK" "$@"; }
  screen_has() {
    local deadline=$((SECONDS + $1))
    until tm capture-pane -p -t oc 2>/dev/null | grep -qF -- "$2"; do
      [ $SECONDS -lt $deadline ] || return 1
      sleep 0.2
    done
  }
  tm new-session -d -s oc -x 150 -y 45 -c "$PROJECT" "'$OPENCODE'; sleep 30"
  if screen_has 60 "Ask anything"; then
    tm send-keys -t oc C-b
    if screen_has 20 "Balancer  [accounts]" && screen_has 5 "bravo"; then
      pass "opencode's TUI loaded the TUI plugin from node_modules: Ctrl+B shows alpha and bravo"
    else
      fail "Ctrl+B did not open the dashboard with the accounts"
      tm capture-pane -p -t oc | sed 's/^/  | /' || true
    fi
  else
    fail "opencode's TUI did not start"
    tm capture-pane -p -t oc | sed 's/^/  | /' || true
  fi
  tm kill-server 2>/dev/null || true
  if wait_no_sidecars; then pass "no sidecar left after the TUI"; else fail "a sidecar outlived the TUI: $(our_pids | tr '\n' ' ')"; fi
else
  note "tmux not installed: the TUI check is skipped"
fi

# `npx opencode-balancer install --npm`: the package names into both configs, and back out.
world npm-install
"$SHIM" install --npm >"$WORK/install-npm.out" 2>&1 || fail "install --npm: $(cat "$WORK/install-npm.out")"
if grep -q -F '"opencode-balancer"' "$XDG_CONFIG_HOME/opencode/opencode.json" &&
  grep -q -F '"opencode-balancer"' "$XDG_CONFIG_HOME/opencode/tui.json"; then
  pass "install --npm put opencode-balancer into opencode.json and tui.json"
else
  fail "install --npm: $(cat "$WORK/install-npm.out")"
fi
"$SHIM" uninstall --npm >"$WORK/uninstall-npm.out" 2>&1 || fail "uninstall --npm: $(cat "$WORK/uninstall-npm.out")"
if grep -q "^restored: .*opencode.json" "$WORK/uninstall-npm.out" && grep -q "^restored: .*tui.json" "$WORK/uninstall-npm.out" &&
  [ ! -e "$XDG_CONFIG_HOME/opencode/opencode.json" ] && [ ! -e "$XDG_CONFIG_HOME/opencode/tui.json" ]; then
  pass "uninstall --npm removed the configs install --npm created"
else
  fail "uninstall --npm left: $(ls "$XDG_CONFIG_HOME/opencode" | tr '\n' ' ')"
fi

# The TUI entry: the module tui.json names resolves the same binary from inside node_modules
# (its rpc.js loads in plain node; the view needs opencode's solid, e2e/tui-tmux.sh runs that).
tui_bin=$(cd "$SCRATCH" && node --input-type=module -e '
  const { resolveBinary } = await import(process.argv[1]);
  const b = resolveBinary({}, null, process.env, process.argv[2]);
  console.log(`${b.path} (${b.source})`);
' "file://$PKG/tui/rpc.js" "file://$PKG/tui/index.js")
if [ "$tui_bin" = "$PKG_BIN (the platform package)" ]; then
  pass "the TUI plugin in node_modules finds the same binary"
else
  fail "the TUI plugin in node_modules found: $tui_bin"
fi

finish
