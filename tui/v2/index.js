// opencode 2's side of the TUI plugin: `setupV2Tui(api, deps)`, called by tui/index.js's
// `setup` under V2. One keymap command opens the Balancer dashboard (Ctrl+B, the palette's "Open
// Balancer Dashboard", `/balancer`), a sidebar line names the session's account, and the
// dashboard talks to its own client-only sidecar (tui/rpc.js) as on V1. Registered once per
// process, however many times V2 loads the package.
import { createActions } from "../actions.js";
import { guarded } from "../elements.js";
import { Client, resolveBinary } from "../rpc.js";
import { createState } from "../state.js";
import { OPEN_COMMAND as OPEN } from "../../common/version.js";
import * as V from "../view.js";
import { createV2Host } from "./host.js";
import { color, Dashboard, Sidebar } from "./render.js";

/** The command that opens the dashboard. */
export { OPEN };
/** Set on globalThis while this process has the V2 TUI plugin set up. */
const ONCE = Symbol.for("opencode-balancer.tui.v2");

/** True for opencode 2's TUI plugin API (V1's has `keymap.registerLayer`, no `keymap.layer`). */
export function isV2Tui(api) {
  return typeof api?.keymap?.layer === "function";
}

/**
 * Sets the plugin up in V2's TUI; returns the cleanup V2 runs when it unloads the plugin. Does
 * nothing (returns undefined) under another host or when this process already has it set up.
 * `deps.createClient(opts)` makes the sidecar client (tests give a fake); else `deps.binary`
 * ({path, source}) or the binary resolveBinary finds from the plugin options (as on V1).
 */
export function setupV2Tui(api, deps = {}) {
  if (!isV2Tui(api) || globalThis[ONCE]) return undefined;
  globalThis[ONCE] = true;
  const options = api.options ?? {};

  const toast = (variant, message, duration = 4000) => {
    try {
      api.ui.toast.show({ variant, title: "Balancer", message: V.safeText(message, true), duration });
    } catch {
      // no toast, no harm
    }
  };
  const notify = ({ variant, message, duration, attention }) => {
    toast(variant, message, duration);
    if (!attention) return;
    try {
      api.attention?.notify?.({ title: "Balancer", message });
    } catch {
      // attention is best effort
    }
  };
  const args = typeof options.store === "string" ? ["--store", options.store] : [];
  const createClient =
    deps.createClient ?? ((o) => new Client({ ...o, binary: deps.binary ?? resolveBinary(options), args }));
  let host = null;
  const state = createState({ createClient, notify, adjust: (d) => host.withV2Active(d) });

  const onKey = (key) =>
    Promise.resolve()
      .then(() => actions.onKey(key))
      .catch((e) => toast("error", `Balancer: ${e?.message ?? e}`));
  /** Shows the dashboard on `screen`. */
  function open(screen = "accounts") {
    state.setScreen(screen);
    api.ui.dialog.show(() => guarded(() => Dashboard(api, state, onKey), () => color(api, "error")));
    api.ui.dialog.set?.({ size: "xlarge" });
    state.scheduleRefresh();
  }
  host = createV2Host(api, () => open(state.screen()));
  const actions = createActions({ state, host, toast });

  try {
    register(api, options, open, state);
  } catch (e) {
    state.stop();
    delete globalThis[ONCE];
    throw e;
  }
  state.start();

  return () => {
    state.stop();
    delete globalThis[ONCE];
  };
}

/** The dashboard's command (key, palette entry, slash name in one) and the sidebar line. */
function register(api, options, open, state) {
  api.keymap.layer(() => ({
    mode: "global",
    commands: [
      {
        id: OPEN,
        title: "Open Balancer Dashboard",
        description: "Accounts, usage, priority and events of opencode-balancer",
        group: "Balancer",
        bind: typeof options.keybind === "string" ? options.keybind : "ctrl+b",
        palette: true,
        slash: { name: "balancer" },
        run: () => open(),
      },
    ],
  }));
  api.ui.slot({ append: "sidebar.content", render: (props) => guarded(() => Sidebar(api, state, props?.sessionID), () => color(api, "error")) });
}
