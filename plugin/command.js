// `/balancer` and the balancer_command tool: the command and skill registered, answers put in the session.
import { isObject, withTimeout } from "../common/util.js";
import { OPEN_COMMAND, SESSION_CHANNEL } from "../common/version.js";
import { COMMAND } from "./constants.js";

/**
 * Thrown from command.execute.before only when the answer could not be put in the session
 * (no session API, its call failed): it stops the command before any model request, and opencode
 * answers the command with a 500.
 */
export class BalancerCommandHandled extends Error {
  constructor(text, output) {
    super(`/balancer ${text}`.trim() + " was answered by opencode-balancer (no prompt sent):\n" + output);
    this.name = "BalancerCommandHandled";
  }
}

/**
 * `/balancer …` answered in the session, with no model request and no error (opencode 1.18.33):
 * 1. command.execute.before stores the typed command as a noReply user message (it asks nothing)
 *    and puts the answer, marked with that message's id under ANSWER_KEY, in place of the
 *    command's parts (output.parts, changed in place: opencode keeps its own array);
 * 2. opencode creates the command's message and shows it to chat.message before saving it;
 *    answerCommand turns it into the finished assistant message answering (1);
 * 3. opencode's prompt loop ends at once when the latest assistant message is finished and
 *    answers the latest user message, so no model is asked; session.command returns 200.
 * The TUI shows the question and its answer; `opencode run --command balancer …` prints the
 * answer (a finished text part) and exits 0. opencode logs "invalid user message before save"
 * for (2) (it checks the message against the user schema and saves it anyway).
 */
export const ANSWER_KEY = "opencode-balancer.answerTo";

/** The user message id a `/balancer` answer part carries, when `parts` holds one. */
export function commandAnswerOf(parts) {
  if (!Array.isArray(parts)) return undefined;
  for (const p of parts) {
    const to = isObject(p) && isObject(p.metadata) ? p.metadata[ANSWER_KEY] : undefined;
    if (typeof to === "string" && to !== "") return to;
  }
  return undefined;
}

/** Replaces the parts of a command in place with the answer, marked as answering `questionID`. */
export function putCommandAnswer(parts, answer, questionID) {
  parts.splice(0, parts.length, { type: "text", text: answer, metadata: { [ANSWER_KEY]: questionID } });
}

/**
 * Turns the user message opencode is about to save (chat.message's output) into the finished
 * assistant message answering `questionID`, with the fields opencode's assistant messages have.
 */
export function answerCommand(output, questionID, where) {
  const message = output.message;
  const now = Date.now();
  const model = isObject(message.model) ? message.model : {};
  for (const key of ["model", "tools", "system", "format", "summary"]) delete message[key];
  Object.assign(message, {
    role: "assistant",
    parentID: questionID,
    mode: message.agent,
    agent: message.agent,
    path: { cwd: where.directory ?? "", root: where.worktree ?? where.directory ?? "" },
    cost: 0,
    tokens: { input: 0, output: 0, reasoning: 0, cache: { read: 0, write: 0 } },
    modelID: typeof model.modelID === "string" ? model.modelID : "",
    providerID: typeof model.providerID === "string" ? model.providerID : "",
    time: { created: isObject(message.time) && typeof message.time.created === "number" ? message.time.created : now, completed: now },
    finish: "stop",
  });
  if (typeof model.variant === "string") message.variant = model.variant;
  for (const part of output.parts) {
    if (isObject(part) && part.type === "text") part.time = { start: now, end: now };
  }
}
/**
 * opencode calls this once per project instance; all instances of a process
 * share one sidecar and one fetch patch (released by the last `dispose`).
 */
export const COMMAND_DESCRIPTION = "opencode-balancer: accounts, failover, balancing (try /balancer help)";
/** The `balancer` skill: what opencode lists and uses as the command's template (replaced by the answer). */
export const SKILL_TEXT = `---
name: ${COMMAND}
description: ${COMMAND_DESCRIPTION}
---
The /${COMMAND} command of the opencode-balancer plugin, which answers it itself.
`;

/**
 * Makes `balancer` a server command, so `/balancer list` (typed in the TUI) and
 * `opencode run --command balancer list` reach command.execute.before. opencode 1.18.33 lists every
 * server command in the TUI's slash list except skills, and a TUI slash name runs on one Enter
 * while a listed server command takes two; so the command is a skill (a SKILL.md in a folder
 * added to `skills.paths`): left out of the slash list, where the TUI plugin's `/balancer`
 * (the dashboard) is the one entry, and denied to the model (`permission.skill`), which neither
 * sees nor loads it. When the folder cannot be written, a config command as before (listed).
 * A `balancer` command of the user's own is left alone.
 */
export function registerCommand(cfg, runtime) {
  if (isObject(cfg.command) && cfg.command[COMMAND]) return;
  const folder = runtime.balancerSkills();
  if (!folder) {
    if (!isObject(cfg.command)) cfg.command = {};
    cfg.command[COMMAND] = { template: "$ARGUMENTS", description: COMMAND_DESCRIPTION };
    return;
  }
  if (!isObject(cfg.skills)) cfg.skills = {};
  const paths = Array.isArray(cfg.skills.paths) ? cfg.skills.paths : [];
  if (!paths.includes(folder)) cfg.skills.paths = [...paths, folder];
  if (!isObject(cfg.permission)) cfg.permission = typeof cfg.permission === "string" ? { "*": cfg.permission } : {};
  const skill = cfg.permission.skill;
  cfg.permission.skill = { ...(isObject(skill) ? skill : typeof skill === "string" ? { "*": skill } : {}), [COMMAND]: "deny" };
}

/** Asks the TUI to run the TUI plugin's `balancer.open`; false in a headless run (no TUI). */
export async function openTuiDashboard(client) {
  if (!client?.tui?.publish) return false;
  try {
    const r = await withTimeout(
      Promise.resolve(
        client.tui.publish({ body: { type: "tui.command.execute", properties: { command: OPEN_COMMAND } } }),
      ),
      1000,
      "tui.publish",
    );
    return r?.error === undefined && r?.response?.ok !== false;
  } catch {
    return false;
  }
}

/** The channel the TUI plugin asks on which account a session is on (tui/index.js). */

/**
 * Answers the TUI plugin's `{type:"session.get", sessionID}` on SESSION_CHANNEL with
 * `{type:"session", sessionID, result}` from this sidecar's `session.get` (its bindings live here, not
 * in the TUI's own sidecar). Read-only; returns the function that stops answering.
 */
export function answerSessionQueries(runtime) {
  if (typeof BroadcastChannel !== "function") return () => {};
  let channel;
  try {
    channel = new BroadcastChannel(SESSION_CHANNEL);
  } catch {
    return () => {};
  }
  channel.unref?.();
  channel.onmessage = async (e) => {
    const q = e?.data;
    if (!isObject(q) || q.type !== "session.get" || typeof q.sessionID !== "string") return;
    try {
      const result = await runtime.call("session.get", { sessionID: q.sessionID }, 2000);
      channel.postMessage({ type: "session", sessionID: q.sessionID, result });
    } catch {
      // no answer: the TUI falls back to the provider's active account
    }
  };
  return () => channel.close();
}
