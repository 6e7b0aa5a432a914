// opencode-balancer's TUI plugin (opencode 1.18.33 `tui.json` "plugin"): the Balancer dashboard
// in a dialog (Ctrl+B, the palette's "Open Balancer Dashboard", `/balancer` through the server
// plugin), the priority matrix, the event log, pending logins and a sidebar line naming the
// session's account. Plain JS, no build step. It talks to its own client-only sidecar
// (`rpc.js`) and asks the server plugin which account a session is on; what it shows is built
// by the pure `view.js`.
import { createComponent, createSignal } from "solid-js";
import { insert, useKeyboard, useTerminalDimensions } from "@opentui/solid";
import { OPEN_COMMAND as OPEN, SESSION_CHANNEL } from "../common/version.js";
import { createActions } from "./actions.js";
import { el, guarded } from "./elements.js";
import { Client, resolveBinary } from "./rpc.js";
import { createState } from "./state.js";
import { setupV2Tui } from "./v2/index.js";
import * as V from "./view.js";

const ID = "opencode-balancer.tui";
/** Where the server plugin answers which account a session is on (plugin/index.js). */

const tui = async (api, options = {}) => {
  const theme = (token) => api.theme.current[token] ?? api.theme.current.text;
  // The session the sidebar shows and what the server plugin's sidecar says it is on
  // (`session.get`: its bindings live there, not in this plugin's own sidecar).
  const [sessions, setSessions] = createSignal({});
  let watched = null;
  let channel = null;
  try {
    channel = new BroadcastChannel(SESSION_CHANNEL);
    channel.unref?.();
    channel.onmessage = (e) => {
      const a = e?.data;
      if (a?.type !== "session" || typeof a.sessionID !== "string") return;
      setSessions((m) => ({ ...m, [a.sessionID]: V.sessionView(a.result) }));
    };
  } catch {
    channel = null; // no channel: the sidebar names the provider's active account
  }
  function askSession() {
    if (watched && channel) channel.postMessage({ type: "session.get", sessionID: watched });
  }
  function watch(sessionID) {
    if (typeof sessionID !== "string" || sessionID === watched) return;
    watched = sessionID;
    queueMicrotask(askSession);
  }

  const toast = (variant, message) => {
    try {
      api.ui.toast({ variant, title: "Balancer", message: V.safeText(message), duration: 4000 });
    } catch {
      // no toast, no harm
    }
  };
  const notify = ({ variant, message, duration }) => {
    try {
      api.ui.toast({ variant, title: "Balancer", message, duration });
      api.attention?.notify?.({ title: "Balancer", message });
    } catch {
      // attention is best effort
    }
  };
  const args = typeof options.store === "string" ? ["--store", options.store] : [];
  const state = createState({
    createClient: (o) => new Client({ ...o, binary: resolveBinary(options), args }),
    notify,
    onRefresh: askSession,
  });
  api.lifecycle.onDispose(() => {
    channel?.close();
    channel = null; // a refresh still under way asks no more
    state.stop();
  });
  state.start();

  // --- the dashboard dialog ---------------------------------------------------------------

  function open() {
    watch(api.route?.current?.params?.sessionID);
    state.setScreen("accounts");
    api.ui.dialog.replace(() => guarded(Dashboard, () => theme("error")));
    api.ui.dialog.setSize?.("xlarge");
    state.scheduleRefresh();
  }

  function Dashboard() {
    const dims = useTerminalDimensions();
    const width = () => Math.max(20, Math.min(dims().width, 116) - 6);
    useKeyboard((key) => actions.onKey(key));
    const box = el("box", { flexDirection: "column", paddingLeft: 1, paddingRight: 1, paddingBottom: 1 });
    insert(box, () => {
      const d = state.data();
      const rows = { accounts: state.selRow("accounts", d), priority: state.selRow("priority", d), pending: state.selRow("pending", d) };
      const lines = V.dashboardLines({ screen: state.screen(), conn: state.conn(), data: d, now: state.now(), rows, width: width() });
      return lines.map((l) => el("text", { fg: theme(l.color) }, V.clip(l.text, width())));
    });
    return box;
  }

  /** Back to the dashboard after a prompt, a confirmation or a model pick (same screen). */
  function reopen() {
    const s = state.screen();
    open();
    state.setScreen(s);
  }

  /**
   * Runs `f` once opencode has given its prompt the focus back after the last dialog closed (or
   * after 250 ms): reopened then, the dashboard takes the focus from the prompt as when first
   * opened (`dialog.replace` blurs what is focused), so the next key does not go into the prompt.
   * Whatever still holds the focus just after is blurred too: the dashboard has nothing to focus.
   */
  function afterRefocus(f) {
    const renderer = api.renderer;
    const focused = () => {
      const r = renderer?.currentFocusedRenderable;
      return r && !r.isDestroyed ? r : null;
    };
    const start = Date.now();
    const step = () => {
      if (!focused() && Date.now() - start < 250) return void setTimeout(step, 5);
      f();
      setTimeout(() => {
        if (api.ui.dialog.open) focused()?.blur?.();
      }, 50);
    };
    setTimeout(step, V.REOPEN_MS);
  }

  /** opencode 1.18.33's sub-dialog of each kind: its component, its confirm callback, the answer it gives. */
  const SUB = {
    prompt: [api.ui.DialogPrompt, "onConfirm", (v) => v],
    confirm: [api.ui.DialogConfirm, "onConfirm", () => true],
    select: [api.ui.DialogSelect, "onSelect", (o) => o?.value],
  };

  /** What the dashboard's actions (actions.js) get from opencode 1.18.33. */
  const host = {
    /** A sub-dialog: Esc, a cancel or a confirm all come back to the dashboard (V.subDialog). */
    ask: (kind, props) =>
      new Promise((resolve) => {
        const [Component, confirmProp, answer] = SUB[kind];
        let d = null;
        const handlers = {
          [confirmProp]: (v) => {
            d?.done();
            resolve(answer(v));
          },
          onCancel: () => {
            d?.done();
            resolve(undefined);
          },
        };
        const back = () => {
          resolve(undefined);
          reopen();
        };
        d = V.subDialog(api.ui.dialog, () => createComponent(Component, { ...props, ...handlers }), back, afterRefocus);
      }),
    models(providerID) {
      const provider = (api.state?.provider ?? []).find((p) => p.id === providerID);
      return Object.entries(provider?.models ?? {}).map(([id, m]) => ({ title: V.safeText(m?.name ?? id), value: id, description: V.safeText(id) }));
    },
    session: () => (watched ? sessions()[watched] : null),
    connect() {
      api.ui.dialog.clear();
      return api.keymap.dispatchCommand("provider.connect");
    },
    close: () => api.ui.dialog.clear(),
    credential: null,
  };
  const actions = createActions({ state, host, toast });

  // --- entry points -----------------------------------------------------------------------

  api.keymap.registerLayer({
    commands: [
      {
        name: OPEN,
        title: "Open Balancer Dashboard",
        category: "Balancer",
        namespace: "palette",
        desc: "Accounts, usage, priority and events of opencode-balancer",
        // `/balancer` + one Enter opens the dashboard. The server plugin's `balancer` command (a
        // skill, so opencode leaves it out of the slash list: plugin/index.js registerCommand)
        // answers `/balancer list` typed in full and `opencode run --command balancer list`.
        slashName: "balancer",
        run: open,
      },
    ],
    bindings: [{ key: typeof options.keybind === "string" ? options.keybind : "ctrl+b", cmd: OPEN, desc: "Open the Balancer dashboard" }],
  });

  api.slots.register({
    order: 50,
    slots: {
      sidebar_content: (_ctx, props) =>
        guarded(() => {
          const box = el("box", { flexDirection: "column" });
          insert(box, () => {
            const accounts = state.data().accounts;
            const id = props?.session_id;
            const messages = id ? api.state?.session?.messages?.(id) : [];
            watch(id);
            const line = V.sidebarLine(accounts, V.sessionProvider(messages, accounts), state.now(), id ? sessions()[id] : null);
            return line ? el("text", { fg: theme(line.color) }, line.text) : null;
          });
          return box;
        }, () => theme("error")),
    },
  });
};

/**
 * opencode 2's TUI entry: a no-op unless `api` is V2's (`api.keymap.layer`); registers once per
 * process however often V2 calls it (tui/v2/index.js), and returns the cleanup V2 runs on unload.
 */
const setup = async (api) => setupV2Tui(api, {});

export default { id: ID, tui, setup };
