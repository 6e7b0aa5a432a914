# Sourced by the end-to-end scripts: until_ok SECONDS CMD… polls CMD (every 0.1 s) until it
# succeeds; returns 1 after SECONDS. A wait on an event, with a bound, never a fixed sleep.
until_ok() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}
