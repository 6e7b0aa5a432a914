// opencode-balancer: the opencode plugin.
//
// A thin bridge. It starts the `opencode-balancer serve` sidecar (one per
// opencode process), speaks NDJSON JSON-RPC 2.0 with it over stdio (the
// contract is docs/protocol.md), forwards opencode's hooks to it, and patches
// `globalThis.fetch` so a provider request marked by the `chat.headers` hook
// goes out as the account the sidecar picks (answered with `chat.headers`; asked
// again with `fetch.begin` only when it may have changed), its 2xx told without
// waiting (one awaited call per answered request), and is re-sent as another account
// when the sidecar answers `retry` (a 429 on one key, then the next key), to
// another provider when it answers `switch` (that provider ran dry), or answered
// at once with the sidecar's final message when it answers `fail`.
//
// Plain ESM, no build step, no runtime dependencies: node/bun built-ins only.
// It never breaks opencode: when the binary is missing, crashes, hangs or
// answers garbage, requests pass through untouched, one warning is shown per
// outage, and the sidecar is restarted with backoff.
//
// Options (opencode.json: ["file:///…/index.js", { …options }]) and the
// environment variables for them (an option wins over its variable):
//   binary              OPENCODE_BALANCER_BIN                 path of the binary
//   store                                                     --store PATH for the sidecar
//   timeoutMs           OPENCODE_BALANCER_TIMEOUT_MS          hot-path call timeout (1500)
//   commandTimeoutMs    OPENCODE_BALANCER_COMMAND_TIMEOUT_MS  /balancer and tool timeout (15000)
//   restartDelayMs      OPENCODE_BALANCER_RESTART_MS          first restart delay (1000), doubling
//   startGraceMs        OPENCODE_BALANCER_START_GRACE_MS      time a new sidecar has to answer initialize (5000)
//   maxRestartDelayMs   OPENCODE_BALANCER_RESTART_MAX_MS      restart delay cap (30000)
//   warnIntervalMs      OPENCODE_BALANCER_WARN_INTERVAL_MS    least time between two warnings (60000)
//   debug               OPENCODE_BALANCER_DEBUG=1             sidecar stderr and plugin notes to stderr
//   disabled            OPENCODE_BALANCER_DISABLE=1           load without doing anything
//   resubmit                                                  send a message again on the next provider
//                                                             after a `fail` with `resubmit` (default: on,
//                                                             off under `opencode run`, which exits first)
// The binary is found in this order (the first that applies wins):
//   1. option `binary`: what this one config asks for, explicitly;
//   2. the platform package `opencode-balancer-<os>-<arch>[-musl]` (bin/),
//      resolved from this file: npm/bun install it with the `opencode-balancer`
//      package, at the same version, so it speaks this plugin's protocol by
//      construction. It comes before the variable below because that variable is
//      set once and outlives upgrades (an old cargo build would shadow the binary
//      that was installed with the plugin); to run another binary with the npm
//      package, use the option;
//   3. OPENCODE_BALANCER_BIN;
//   4. the path `opencode-balancer install` wrote into common/binary.js (only in a copy it wrote);
//   5. `opencode-balancer` on PATH;
//   6. ../target/release/opencode-balancer next to the package folder (a checkout).
// 1 and 3 are taken as given: a wrong path means "no sidecar", never a silent
// fallback. 2, 4, 5, 6 count only when the file is there and executable.
// The binary must answer `initialize` with protocolVersion 1 (docs/protocol.md);
// one that does not (older, or newer) is stopped and not restarted: requests
// pass through and the user is told once what to do.

import { envFlag, isObject } from "../common/util.js";
import { PLUGIN_ID } from "../common/version.js";
import { BalancerCommandHandled, answerCommand, answerSessionQueries, commandAnswerOf, openTuiDashboard, putCommandAnswer, registerCommand } from "./command.js";
import { COMMAND, MARKER, TOOL } from "./constants.js";
import { acquireRuntime, providerApi, underOpencodeRun } from "./runtime.js";
import { setupV2 } from "./v2/index.js";

// ---------------------------------------------------------------------------
// the plugin


export async function server(input, options) {
  const opts = isObject(options) ? options : {};
  if (opts.disabled === true || envFlag("OPENCODE_BALANCER_DISABLE")) return {};
  const client = input?.client ?? null;
  const runtime = acquireRuntime(opts, client);
  const stopAnswering = answerSessionQueries(runtime);
  let released = false;

  return {
    async config(cfg) {
      if (!isObject(cfg)) return;
      runtime.describeProviders(cfg);
      registerCommand(cfg, runtime);
    },

    async "chat.message"(hookInput, output) {
      const sessionID = hookInput?.sessionID;
      if (typeof sessionID !== "string") return;
      const params = { sessionID };
      const m = hookInput.model;
      if (isObject(m) && typeof m.providerID === "string" && typeof m.modelID === "string") {
        params.model = { providerID: m.providerID, modelID: m.modelID };
      }
      const questionID = commandAnswerOf(output?.parts);
      if (questionID !== undefined && isObject(output.message)) {
        answerCommand(output, questionID, input ?? {});
        return;
      }
      runtime.rememberParts(sessionID, output?.parts);
      let result;
      try {
        result = await runtime.call("chat.message", params);
      } catch {
        return;
      }
      const chosen = result.model;
      // The turn's first request: its opening is asked now, so its chat.headers awaits nothing.
      const next = chosen ?? params.model;
      if (next) runtime.askAhead(sessionID, next.providerID, next.modelID, runtime.apis.get(next.providerID));
      if (!chosen || !isObject(output?.message)) return;
      const current = output.message.model;
      if (isObject(current) && current.providerID === chosen.providerID && current.modelID === chosen.modelID) return;
      // opencode 1.18 keeps {providerID, modelID, variant?} here; a variant
      // belongs to the previous model, so it does not carry over.
      output.message.model = { providerID: chosen.providerID, modelID: chosen.modelID };
    },

    async "chat.headers"(hookInput, output) {
      const sessionID = hookInput?.sessionID;
      const model = hookInput?.model;
      const providerID = model?.providerID ?? hookInput?.provider?.info?.id ?? hookInput?.provider?.id;
      const modelID = model?.id ?? model?.modelID ?? "";
      if (typeof sessionID !== "string" || typeof providerID !== "string") return;
      const params = { sessionID, providerID, modelID: String(modelID) };
      const api = providerApi(model, hookInput?.provider);
      if (api) params.api = api;
      params.fetch = runtime.expectedShape(providerID);
      runtime.apis.set(providerID, api ?? undefined);
      const ask = { sessionID, modelID: params.modelID, api: api ?? undefined };
      const ready = await runtime.takeOpening(sessionID, params);
      if (ready && isObject(output)) {
        const { gen, at, until, epoch, providerEpoch } = ready;
        runtime.hold(ready.requestID, providerID, ready.expected, ready.begin, { gen, at, until, epoch, providerEpoch }, ask);
        if (!isObject(output.headers)) output.headers = {};
        output.headers[MARKER] = ready.requestID;
        return;
      }
      const unused = runtime.takeUnused();
      if (unused) params.unused = unused;
      const mark = runtime.pickMark(providerID);
      let result;
      try {
        result = await runtime.call("chat.headers", params);
      } catch {
        return;
      }
      if (result.syncAuth) await runtime.syncAuth(result.syncAuth);
      if (typeof result.requestID === "string" && result.requestID !== "" && isObject(output)) {
        runtime.hold(result.requestID, providerID, params.fetch, result.begin, mark, ask);
        if (!isObject(output.headers)) output.headers = {};
        output.headers[MARKER] = result.requestID;
      }
    },

    async "command.execute.before"(hookInput, output) {
      if (hookInput?.command !== COMMAND) return;
      const text = typeof hookInput.arguments === "string" ? hookInput.arguments.trim() : "";
      // Plain `/balancer` in the TUI opens the TUI plugin's dashboard (tui/index.js, `balancer.open`).
      // Under `opencode run` (no TUI, though tui.publish still succeeds) the answer is the help.
      const answer =
        text === "" && !underOpencodeRun() && (await openTuiDashboard(client))
          ? "Opened the Balancer dashboard (Ctrl+B also opens it; /balancer help lists the text commands)."
          : await runtime.runCommand(text === "" ? "help" : text);
      const questionID = Array.isArray(output?.parts)
        ? await runtime.storeCommandQuestion(client, hookInput.sessionID, `/${COMMAND} ${text}`.trim())
        : undefined;
      if (questionID === undefined) {
        // Nowhere to put the answer: a toast, and stop the command before any model request.
        runtime.toast(answer, "info", 15000);
        throw new BalancerCommandHandled(text, answer);
      }
      putCommandAnswer(output.parts, answer, questionID);
    },

    tool: {
      [TOOL]: {
        description:
          "Run an opencode-balancer command and return its text output. Commands: help, list, status, " +
          "use <provider> <alias>, active <provider>, balancing on|off, priority, usage, events.",
        // A plain JSON-schema property map: opencode 1.18 accepts it without zod.
        args: {
          text: { type: "string", description: 'The command, e.g. "list" or "use openai work".' },
        },
        async execute(args) {
          return runtime.runCommand(typeof args?.text === "string" ? args.text.trim() : "");
        },
      },
    },

    // opencode 1.18 calls `dispose` when the instance goes away; the last one
    // restores fetch and stops the sidecar (EOF: it flushes and exits).
    async dispose() {
      if (released) return;
      released = true;
      stopAnswering();
      await runtime.release(client);
    },
  };
}

/** A guard key: V2 may load this plugin twice in one process (plugin/ folder and `plugins`); hooks register once. */
const V2_KEY = Symbol.for("opencode-balancer.plugin.v2");

/**
 * opencode 2's entry (docs/architecture.md): `ctx.session.hook` is V2's; on opencode 1 (no such
 * function) it does nothing. The V2 adapter lives in plugin/v2/.
 */
async function setup(ctx) {
  if (typeof ctx?.session?.hook !== "function") return;
  if (globalThis[V2_KEY]) return;
  globalThis[V2_KEY] = true;
  return setupV2(ctx, {});
}

export default { id: PLUGIN_ID, server, setup };
