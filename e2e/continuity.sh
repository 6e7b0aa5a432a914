#!/usr/bin/env bash
#! The real-opencode continuity e2e (issue 29): a failover in the middle of a conversation, and a refusal inside a 200 stream.
#
#   OPENCODE_BALANCER_BIN=target/release/opencode-balancer bash e2e/continuity.sh
#
# Sources e2e/lib.sh (the tally, cleanup, opencode 1.18.33, worlds, oc, check_json). Two cases,
# each in its own world with the plugin `install` wrote and two API-key accounts, alpha
# (opencode's own login, active) and bravo; see e2e/README.md, "Continuity":
#   responses  the built-in `openai` provider pointed at e2e/mock-responses.mjs, model gpt-5.5
#              (opencode sends store:false, include:["reasoning.encrypted_content"] and replays
#              earlier reasoning in input[]; the mock binds encrypted reasoning to the key that
#              issued it). Turn 1 on alpha; alpha then answers 429: turn 2 (`run --continue`) must
#              print bravo's answer, and turn 3 (`run --continue`) must succeed too.
#   messages   the `anthropic` provider pointed at e2e/mock-messages.mjs; alpha's answer is an
#              HTTP 200 event stream whose first event is a `rate_limit_error`: the run must print
#              bravo's answer, with alpha asked once per request (not retried by opencode).
# Environment: as e2e/run.sh (OPENCODE_BALANCER_BIN, E2E_CACHE, E2E_RUN_TIMEOUT, E2E_KEEP).
set -euo pipefail

# shellcheck source=e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ -x "$BIN" ] || die "no binary at $BIN (cargo build --release, or set OPENCODE_BALANCER_BIN)"
pass "binary $BIN"

# start_api_mock FILE NAME: runs e2e/FILE on 127.0.0.1 with its log in $WORK/NAME.log and its
# per-key script in $WORK/NAME.script; prints its base URL.
start_api_mock() {
  node "$ROOT/e2e/$1" --port-file "$WORK/$2.port" --log "$WORK/$2.log" --script "$WORK/$2.script" \
    >"$WORK/$2.out" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do
    [ -s "$WORK/$2.port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -s "$WORK/$2.port" ] || die "the $2 mock did not start: $(cat "$WORK/$2.out")"
  echo "http://127.0.0.1:$(cat "$WORK/$2.port")"
}

# api_world NAME PROVIDER MODEL BASEURL: a world whose opencode uses PROVIDER/MODEL at BASEURL with
# alpha's key as its own login, alpha and bravo saved for PROVIDER (alpha active), the plugin
# installed.
api_world() {
  local name=$1 provider=$2 model=$3 base=$4
  world "$name"
  cat >"$XDG_CONFIG_HOME/opencode/opencode.json" <<EOF
{
  "\$schema": "https://opencode.ai/config.json",
  "autoupdate": false,
  "share": "disabled",
  "provider": { "$provider": { "options": { "baseURL": "$base/v1" } } },
  "model": "$provider/$model",
  "small_model": "$provider/$model"
}
EOF
  printf '{"%s":{"type":"api","key":"%s"}}\n' "$provider" "$ALPHA" >"$XDG_DATA_HOME/opencode/auth.json"
  chmod 600 "$XDG_DATA_HOME/opencode/auth.json"
  printf %s "$ALPHA" | "$BIN" accounts add "$provider" alpha >"$WORK/$name-add.out" 2>&1 ||
    die "$name: accounts add $provider alpha: $(cat "$WORK/$name-add.out")"
  printf %s "$BRAVO" | "$BIN" accounts add "$provider" bravo >>"$WORK/$name-add.out" 2>&1 ||
    die "$name: accounts add $provider bravo: $(cat "$WORK/$name-add.out")"
  "$BIN" accounts use "$provider" alpha >>"$WORK/$name-add.out" 2>&1 || die "$name: accounts use: $(cat "$WORK/$name-add.out")"
  "$BIN" install >"$WORK/$name-install.out" 2>&1 || die "$name: install: $(cat "$WORK/$name-install.out")"
}

# turn NAME MOCK ARGS…: opencode ARGS in the current world, the mock's log of just this run kept
# as $WORK/NAME.log; the exit status in $rc.
turn() {
  local name=$1 mock=$2
  shift 2
  : >"$WORK/$mock.log"
  rc=0
  oc "$name" "$@" || rc=$?
  cp "$WORK/$mock.log" "$WORK/$name.log"
}

# log_check NAME CODE: check_json on the mock log of run NAME, with `all` = its requests (a log of
# one line parses as one document, `data`, in check_json).
log_check() { check_json "$WORK/$1.log" "const all = lines ?? (data === undefined ? [] : [data]); $2"; }

# printed NAME TEXT: the run printed TEXT.
printed() { grep -q -F "$2" "$WORK/$1.out"; }

# answered NAME TEXT WHAT: run NAME exited 0 and printed TEXT.
answered() {
  if [ "$rc" -eq 0 ] && printed "$1" "$2"; then
    pass "$3"
  else
    fail "$3 (exit $rc; \"$2\" not printed)"
    show "$1"
  fi
}

# checked NAME WHAT CODE: log_check NAME CODE passes, else WHAT fails with the problem.
checked() {
  local problem
  if problem=$(log_check "$1" "$3"); then pass "$2"; else fail "$2: $problem"; fi
}

# bravo_answered NAME WHAT: in run NAME bravo answered 200, never received alpha's reasoning (the
# sidecar knows from the store whose 2xx produced the replayed state, or that the conversation
# moved, so it strips before sending: no 400, no mend), and the request it answered kept
# store:false, include and prompt_cache_key.
bravo_answered() {
  checked "$1" "$2: bravo never received alpha's reasoning (stripped before it was sent); the request it answered kept store:false, include and prompt_cache_key" '
    const bravo = all.filter((l) => l.name === "bravo");
    const ok = bravo.filter((l) => l.status === 200);
    if (!ok.length) throw new Error("bravo never answered 200: " + JSON.stringify(all.map((l) => [l.name, l.status, l.reply])));
    const foreign = bravo.filter((l) => l.foreign.length);
    if (foreign.length) throw new Error("bravo received alpha'"'"'s reasoning " + foreign.length + " time(s): " + JSON.stringify(foreign.map((l) => [l.status, l.reply, l.reasoningFrom])));
    const bad = ok.filter((l) => l.store !== false || !(l.include ?? []).includes("reasoning.encrypted_content") || !l.promptCacheKey);
    if (bad.length) throw new Error("the request bravo answered lost store/include/prompt_cache_key: " + JSON.stringify(bad));
  '
}

# no_mend NAME WHAT: `events --json` of the current world (written by events_have NAME) has no
# state_mended: nothing foreign was sent, so nothing needed mending.
no_mend() {
  if grep -q '"state_mended"' "$WORK/$1-events.json"; then fail "$2: a mend ran (the state was not stripped before sending)"; else pass "$2: no state_mended"; fi
}

# events_have NAME TYPE…: `events --json` of the current world has an event of each TYPE, and no key.
events_have() {
  local name=$1 problem
  shift
  "$BIN" events --json >"$WORK/$name-events.json" 2>&1 || true
  if problem=$(check_json "$WORK/$name-events.json" '
    const types = list(data, "events").map((e) => e.type);
    const missing = "'"$*"'".split(" ").filter((t) => !types.includes(t));
    if (missing.length) throw new Error("no " + missing.join(", ") + " among: " + [...new Set(types)].join(", "));
  '); then
    pass "$name: events --json has $*"
  else
    fail "$name: events --json: $problem"
  fi
  if grep -q -e "$ALPHA" -e "$BRAVO" "$WORK/$name-events.json"; then fail "$name: events --json shows a key"; fi
}

# no_secrets NAME…: no key appears in those runs' outputs.
no_secrets() {
  local n
  for n in "$@"; do
    if grep -q -e "$ALPHA" -e "$BRAVO" "$WORK/$n.out" "$WORK/$n.err"; then fail "$n: a key appears in opencode's output"; fi
  done
}

# Nothing leaves the machine: the sidecar's usage endpoints go to the Responses mock (which
# answers them 404) instead of the public hosts.
RESP_URL=$(start_api_mock mock-responses.mjs responses)
pass "Responses mock on ${RESP_URL#http://}"
MSG_URL=$(start_api_mock mock-messages.mjs messages)
pass "Messages mock on ${MSG_URL#http://}"
export OPENCODE_BALANCER_OPENAI_URL="$RESP_URL" OPENCODE_BALANCER_CHATGPT_URL="$RESP_URL" \
  OPENCODE_BALANCER_ANTHROPIC_URL="$RESP_URL" OPENCODE_BALANCER_GITHUB_URL="$RESP_URL"

# --- case 1: a failover in the middle of a Responses conversation ------------------------------

ANSWER_ALPHA="Mock Responses answer via alpha."
ANSWER_BRAVO="Mock Responses answer via bravo."
api_world responses openai gpt-5.5 "$RESP_URL"
echo '{}' >"$WORK/responses.script"

turn c1-turn1 responses run "first question"
answered c1-turn1 "$ANSWER_ALPHA" "turn 1: opencode run printed alpha's answer"
checked c1-turn1 "turn 1: every request answered on alpha, with store:false and include reasoning.encrypted_content" '
  if (!all.length) throw new Error("no request reached the mock");
  const other = all.filter((l) => l.name !== "alpha" || l.status !== 200);
  if (other.length) throw new Error("not all answered on alpha: " + JSON.stringify(other.map((l) => [l.name, l.status])));
  const asks = all.filter((l) => l.store === false && (l.include ?? []).includes("reasoning.encrypted_content"));
  if (!asks.length) throw new Error("no request asked for encrypted reasoning with store:false: " + JSON.stringify(all.map((l) => [l.store, l.include, l.model])));
'

# alpha is limited from now on.
echo '{"alpha":{"refuse":true,"retryAfter":120}}' >"$WORK/responses.script"
turn c1-turn2 responses run --continue "second question"
answered c1-turn2 "$ANSWER_BRAVO" "turn 2: alpha refused, the same opencode run printed bravo's answer"
checked c1-turn2 "turn 2: alpha was asked first, with its own encrypted reasoning replayed, and answered 429" '
  const alpha = all.filter((l) => l.name === "alpha");
  if (!alpha.length || !alpha.every((l) => l.status === 429)) throw new Error("alpha was not asked first and refused: " + JSON.stringify(all.map((l) => [l.name, l.status])));
  if (!alpha.some((l) => l.reasoningFrom.includes("alpha"))) throw new Error("opencode did not replay alpha'"'"'s encrypted reasoning (the case proves nothing): " + JSON.stringify(alpha.map((l) => l.reasoningFrom)));
'
bravo_answered c1-turn2 "turn 2"

turn c1-turn3 responses run --continue "third question"
answered c1-turn3 "$ANSWER_BRAVO" "turn 3: opencode run --continue printed bravo's answer"
bravo_answered c1-turn3 "turn 3"
events_have responses failover_performed
no_mend responses "turns 2 and 3 (each a new sidecar: the owner and the move come from the store)"
no_secrets c1-turn1 c1-turn2 c1-turn3

# --- case 1b: a refusal in the middle of a tool loop, within one opencode run --------------------
# The sidecar saw alpha answer this session (the tool call), so it knows whose reasoning the next
# request replays: bravo must get the request without it, before sending — no 400, no mend.

api_world toolloop openai gpt-5.5 "$RESP_URL"
echo '{"alpha":{"refuseToolOutput":true,"retryAfter":120}}' >"$WORK/responses.script"
turn c1b-run responses run "use the balancer tool"
answered c1b-run "$ANSWER_BRAVO" "tool loop: alpha refused the tool's result, the same opencode run printed bravo's answer"
checked c1b-run "tool loop: bravo never received alpha's reasoning (stripped before sending, no 400); the function call and its output, store, include and prompt_cache_key kept" '
  const calls = all.filter((l) => l.name === "alpha" && l.reply === "tool-call");
  if (!calls.length) throw new Error("alpha did not answer with the tool call: " + JSON.stringify(all.map((l) => [l.name, l.status, l.reply])));
  const refused = all.filter((l) => l.name === "alpha" && l.status === 429);
  if (!refused.some((l) => l.reasoningFrom.includes("alpha") && l.functionCallOutputs > 0)) throw new Error("alpha was not asked with its reasoning and the tool output: " + JSON.stringify(refused));
  const bravo = all.filter((l) => l.name === "bravo");
  if (bravo.some((l) => l.reasoning > 0 && l.foreign.length)) throw new Error("bravo received alpha'"'"'s reasoning: " + JSON.stringify(bravo.map((l) => [l.status, l.reply, l.reasoningFrom])));
  const ok = bravo.filter((l) => l.status === 200 && l.reply === "answer" && l.functionCalls > 0 && l.functionCallOutputs > 0);
  if (!ok.length) throw new Error("bravo did not answer the tool loop with its function_call/function_call_output pair: " + JSON.stringify(bravo));
  if (ok.some((l) => l.store !== false || !(l.include ?? []).includes("reasoning.encrypted_content") || !l.promptCacheKey)) throw new Error("store/include/prompt_cache_key lost");
'
events_have toolloop failover_performed
no_mend toolloop "tool loop"
no_secrets c1b-run

# --- case 2: a refusal inside a 200 stream, before any content ----------------------------------

# stream_refusal WORLD SCRIPT WHAT: a fresh world on the Messages mock where alpha's streams are as
# SCRIPT says: the run prints bravo's answer; alpha is asked at most twice (opencode sends its
# title request beside the prompt) and never after bravo answered — a balancer that does not see
# the error event leaves it to opencode, which retries it on alpha (2 s, 4 s, … up to 5 times);
# events --json has stream_refused.
stream_refusal() {
  local world=$1 what=$3
  api_world "$world" anthropic claude-sonnet-4-5 "$MSG_URL"
  echo "{\"alpha\":$2}" >"$WORK/messages.script"
  turn "$world-run" messages run "say hi"
  answered "$world-run" "Mock Messages answer via bravo." "$what: opencode run printed bravo's answer"
  checked "$world-run" "$what: alpha asked once per request, then bravo answered" '
    const alpha = all.filter((l) => l.name === "alpha");
    const bravo = all.filter((l) => l.name === "bravo");
    if (!alpha.length || !alpha.every((l) => l.reply === "stream-error")) throw new Error("alpha was not asked first: " + JSON.stringify(all.map((l) => [l.name, l.reply])));
    if (alpha.length > 2) throw new Error("alpha was asked " + alpha.length + " times (opencode retried the stream error on the same account)");
    if (!bravo.some((l) => l.status === 200 && l.reply === "answer")) throw new Error("bravo did not answer");
    if (all.slice(all.indexOf(bravo[0])).some((l) => l.name === "alpha")) throw new Error("alpha was asked again after bravo answered");
  '
  events_have "$world" stream_refused
  no_secrets "$world-run"
}

stream_refusal messages '{"streamError":"rate_limit_error"}' "rate_limit_error first in a 200 stream"
stream_refusal overloaded '{"streamError":"overloaded_error","afterMessageStart":true}' \
  "overloaded_error after message_start and ping"

finish
