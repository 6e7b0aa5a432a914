// How the Balancer looks inside opencode 2's TUI: elements through @opentui/solid (which V2
// supplies), view.js's colour names mapped onto V2's theme tokens, the dashboard dialog's body
// with its keys (a modal keymap layer that lives as long as the dialog), and the sidebar line.
import { insert, useTerminalDimensions } from "@opentui/solid";
import { el } from "../elements.js";
import * as V from "../view.js";

/** view.js's colour names → paths in V2's theme tokens (`api.theme`). */
const TOKENS = {
  text: "text.base",
  textMuted: "text.muted",
  primary: "text.action.primary.base",
  accent: "text.action.primary.focused",
  success: "text.feedback.success.base",
  warning: "text.feedback.warning.base",
  error: "text.feedback.error.base",
};

/** The colour of a view.js colour name in V2's current theme (its base text colour if unknown). */
export function color(api, name) {
  const at = (path) => path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), api.theme);
  return at(TOKENS[name] ?? TOKENS.text) ?? at(TOKENS.text);
}

/**
 * The keys the dashboard binds (V2 keymap syntax), every key view.js's keyAction gives an action
 * to but Esc, which V2's dialog itself binds to close the dialog.
 */
export const KEYS = ["tab", "up", "k", "down", "j", "shift+up", "shift+down", "return", "space", "delete", "a", "b", "c", "d", "e", "f", "l", "n", "p", "r", "u", "x"];

/** A binding as the key view.js's keyAction reads: "shift+up" → {name: "up", shift: true}. */
export function keyOf(bind) {
  const shift = bind.startsWith("shift+");
  return { name: shift ? bind.slice(6) : bind, shift, ctrl: false, meta: false };
}

/** The dashboard dialog's body; `onKey(key)` runs what a key does. */
export function Dashboard(api, state, onKey) {
  const dims = useTerminalDimensions();
  const width = () => Math.max(20, Math.min(dims().width, 116) - 6);
  api.keymap.layer(() => ({
    mode: "modal",
    commands: KEYS.map((bind) => ({
      id: `balancer.dashboard.${bind.replace("+", "-")}`,
      title: `Balancer dashboard: ${bind}`,
      group: "Balancer",
      bind,
      run: () => void onKey(keyOf(bind)),
    })),
  }));
  const box = el("box", { flexDirection: "column", paddingLeft: 1, paddingRight: 1, paddingBottom: 1 });
  insert(box, () => {
    const d = state.data();
    const rows = { accounts: state.selRow("accounts", d), priority: state.selRow("priority", d), pending: state.selRow("pending", d) };
    const lines = V.dashboardLines({ screen: state.screen(), conn: state.conn(), data: d, now: state.now(), rows, width: width() });
    return lines.map((l) => el("text", { fg: color(api, l.color) }, V.clip(l.text, width())));
  });
  return box;
}

/**
 * The provider a session is on: what its messages name, else the model the TUI has selected,
 * else the only provider with accounts.
 */
export function sessionProviderOf(api, sessionID, accounts) {
  let messages = [];
  try {
    messages = (sessionID && api.data?.session?.message?.list?.(sessionID)) || [];
  } catch {
    messages = [];
  }
  return V.sessionProvider(messages, []) ?? api.ui.model?.current?.()?.providerID ?? V.sessionProvider([], accounts);
}

/** The sidebar's Balancer line for the session `sessionID` (nothing when there is nothing to say). */
export function Sidebar(api, state, sessionID) {
  const box = el("box", { flexDirection: "column" });
  insert(box, () => {
    const accounts = state.data().accounts;
    const line = V.sidebarLine(accounts, sessionProviderOf(api, sessionID, accounts), state.now());
    return line ? el("text", { fg: color(api, line.color) }, line.text) : null;
  });
  return box;
}
