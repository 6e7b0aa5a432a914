// opencode-balancer's TUI plugin (opencode 1.18.33 `tui.json` "plugin"): the Balancer dashboard
// in a dialog (Ctrl+B, the palette's "Open Balancer Dashboard", `/balancer` through the server
// plugin), the priority matrix, the event log, pending logins and a sidebar line naming the
// session's account. Plain JS, no build step. It talks to its own client-only sidecar
// (`rpc.js`) and asks the server plugin which account a session is on; what it shows is built
// by the pure `view.js`.
import { createComponent, createRenderEffect, createSignal, ErrorBoundary } from "solid-js";
import { createElement, insert, setProp, useKeyboard, useTerminalDimensions } from "@opentui/solid";
import * as V from "./view.js";
import { Client, resolveBinary } from "./rpc.js";
import { setupV2Tui } from "./v2/index.js";

const ID = "opencode-balancer.tui";
const OPEN = "balancer.open";
/** Where the server plugin answers which account a session is on (plugin/index.js). */
const SESSION_CHANNEL = "opencode-balancer.session";

/** An element; a function prop is reactive, children are inserted (functions reactively). */
function el(tag, props = {}, ...children) {
  const node = createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (typeof v === "function" && !k.startsWith("on")) createRenderEffect(() => setProp(node, k, v()));
    else setProp(node, k, v);
  }
  for (const c of children) insert(node, c);
  return node;
}

function clip(text, width) {
  return text.length > width ? text.slice(0, Math.max(1, width - 1)) + "…" : text;
}

const tui = async (api, options = {}) => {
  const theme = (token) => api.theme.current[token] ?? api.theme.current.text;
  const [data, setData] = createSignal({ accounts: [], priority: [], settings: {}, events: [], pending: [] });
  const [conn, setConn] = createSignal({ state: "starting", reason: null });
  const [now, setNow] = createSignal(Date.now());
  const [screen, setScreen] = createSignal("accounts");
  // Each selection follows its item (an account by provider/alias), not the row: V.selIndex.
  const [sel, setSel] = createSignal({ accounts: {}, priority: {}, pending: {} });
  const announced = new Set();
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

  const args = typeof options.store === "string" ? ["--store", options.store] : [];
  const client = new Client({
    binary: resolveBinary(options),
    args,
    onState: (c) => {
      setConn(c);
      if (c.state === "ready") refresh();
    },
    onNotification: (method) => {
      if (method === "event" || method === "store.changed") scheduleRefresh();
    },
  });

  let refreshTimer = null;
  function scheduleRefresh() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      refresh();
    }, 80);
  }

  async function refresh() {
    const calls = [
      ["accounts", "accounts.list"],
      ["priority", "priority.list"],
      ["settings", "settings.get"],
      ["events", "events.list", { limit: 30 }],
      ["pending", "pending.list"],
    ];
    const got = await Promise.allSettled(calls.map(([, m, p]) => client.call(m, p ?? {})));
    const next = { ...data() };
    got.forEach((r, i) => {
      if (r.status === "fulfilled") next[calls[i][0]] = r.value ?? next[calls[i][0]];
    });
    setData(next);
    askSession();
    // Re-anchor each selection on the row its item is on now (a removed item: its neighbour).
    for (const kind of ["accounts", "priority", "pending"]) setSelOf(kind, (x) => V.moveSelOf(kind, listOf(kind, next), x, 0));
    attention(next.accounts, next.events);
  }

  function attention(accounts, events) {
    const out = V.exhaustedProviders(accounts, Date.now());
    for (const p of [...announced]) if (!out.includes(p)) announced.delete(p);
    const fresh = out.filter((p) => !announced.has(p));
    for (const p of fresh) {
      announced.add(p);
      const { text: message, variant } = V.restingMessage(p, events, Date.now());
      try {
        api.ui.toast({ variant, title: "Balancer", message, duration: 8000 });
        api.attention?.notify?.({ title: "Balancer", message });
      } catch {
        // attention is best effort
      }
    }
  }

  const tick = setInterval(() => setNow(Date.now()), 1000);
  tick.unref?.();
  api.lifecycle.onDispose(() => {
    clearInterval(tick);
    if (refreshTimer) clearTimeout(refreshTimer);
    channel?.close();
    client.stop();
  });
  client.start();

  const toast = (variant, message) => {
    try {
      api.ui.toast({ variant, title: "Balancer", message: V.safeText(message), duration: 4000 });
    } catch {
      // no toast, no harm
    }
  };
  /** Calls the sidecar; `done` is the success toast; `onError(e)` returning true has handled a failure. */
  const run = (method, params, done, onError) =>
    client.call(method, params, 30_000).then(
      (r) => {
        if (done) toast("success", done);
        scheduleRefresh();
        return r;
      },
      (e) => {
        scheduleRefresh();
        if (!onError?.(e)) toast("error", V.failureMessage(method, e));
      },
    );

  // --- the dashboard dialog ---------------------------------------------------------------

  function open() {
    watch(api.route?.current?.params?.sessionID);
    setScreen("accounts");
    api.ui.dialog.replace(() => guarded(Dashboard));
    api.ui.dialog.setSize?.("xlarge");
    scheduleRefresh();
  }

  function guarded(View) {
    return createComponent(ErrorBoundary, {
      fallback: (e) => el("text", { fg: () => theme("error") }, `Balancer: this view failed (${e?.message ?? e}); Esc closes it.`),
      get children() {
        return createComponent(View, {});
      },
    });
  }

  function listOf(kind, d) {
    return kind === "accounts" ? V.accountOrder(d.accounts) : (d[kind] ?? []);
  }
  function selected(kind, list) {
    return list[V.selIndex(kind, list, sel()[kind])];
  }
  const selRow = (kind, d) => V.selIndex(kind, listOf(kind, d), sel()[kind]);
  const setSelOf = (kind, f) => setSel((s) => ({ ...s, [kind]: f(s[kind]) }));

  function lines(width) {
    const d = data();
    const t = now();
    const out = [V.titleLine(screen(), conn())];
    const exhausted = V.exhaustedProviders(d.accounts, t);
    if (exhausted.length) out.push({ text: `Every account of ${exhausted.join(", ")} is cooling down or needs a login.`, color: "warning" });
    out.push({ text: " ", color: "text" });
    const s = screen();
    if (conn().state === "down" && d.accounts.length === 0) {
      out.push({ text: "The balancer's sidecar is not running, so there is nothing to show; opencode keeps working without it.", color: "textMuted" });
    } else if (s === "accounts") out.push(...V.accountLines(d.accounts, selRow("accounts", d), t, { barWidth: width > 100 ? 20 : 10 }));
    else if (s === "priority") out.push(...V.priorityLines(d.priority, d.settings, selRow("priority", d)));
    else if (s === "events") out.push(...V.eventLines(d.events, t));
    else out.push(...V.pendingLines(d.pending, selRow("pending", d), t, d.settings));
    out.push({ text: " ", color: "text" }, { text: V.HELP[s], color: "textMuted" });
    return out;
  }

  function Dashboard() {
    const dims = useTerminalDimensions();
    const width = () => Math.max(20, Math.min(dims().width, 116) - 6);
    useKeyboard((key) => onKey(key));
    const box = el("box", { flexDirection: "column", paddingLeft: 1, paddingRight: 1, paddingBottom: 1 });
    insert(box, () => lines(width()).map((l) => el("text", { fg: theme(l.color) }, clip(l.text, width()))));
    return box;
  }

  /** Back to the dashboard after a prompt, a confirmation or a model pick (same screen). */
  function reopen() {
    const s = screen();
    open();
    setScreen(s);
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

  /**
   * A sub-dialog: Esc, a cancel or a confirm all come back to the dashboard (V.subDialog).
   * `confirmProp` is the component's confirm callback (onConfirm, or onSelect for a select).
   */
  function sub(Component, props, confirmProp, onConfirm) {
    let d = null;
    const handlers = {
      [confirmProp]: (v) => {
        d?.done();
        onConfirm(v);
      },
      onCancel: () => d?.done(),
    };
    d = V.subDialog(api.ui.dialog, () => createComponent(Component, { ...props, ...handlers }), reopen, afterRefocus);
  }

  function prompt(title, value, onConfirm) {
    sub(api.ui.DialogPrompt, { title, value, placeholder: value }, "onConfirm", onConfirm);
  }

  function confirm(title, message, onConfirm) {
    sub(api.ui.DialogConfirm, { title, message }, "onConfirm", onConfirm);
  }

  function pickModel(entry) {
    const provider = (api.state?.provider ?? []).find((p) => p.id === entry.providerID);
    const models = Object.entries(provider?.models ?? {}).map(([id, m]) => ({ title: V.safeText(m?.name ?? id), value: id, description: V.safeText(id) }));
    if (models.length === 0) {
      toast("warning", `opencode knows no models for ${entry.providerID}`);
      return;
    }
    sub(api.ui.DialogSelect, { title: `Model for ${entry.providerID}`, options: models }, "onSelect", (o) =>
      run("priority.setModel", { providerID: entry.providerID, modelID: o.value }, `${entry.providerID} uses ${o.value}`),
    );
  }

  function onKey(key) {
    const s = screen();
    const action = V.keyAction(s, key);
    if (!action) return;
    const d = data();
    const accounts = V.accountOrder(d.accounts);
    if (action !== "close") key.preventDefault?.();
    if (action.startsWith("screen:")) return setScreen(action.slice(7));
    if (action === "up" || action === "down") {
      if (s !== "events") setSelOf(s, (x) => V.moveSelOf(s, listOf(s, d), x, action === "up" ? -1 : 1));
      return;
    }
    const a = selected("accounts", accounts);
    const p = selected("priority", d.priority);
    const who = a && { providerID: a.providerID, alias: a.alias };
    switch (action) {
      case "activate":
        return a && run("accounts.activate", who, V.activatedMessage(a, d.settings, watched ? sessions()[watched] : null));
      case "rename":
        return (
          a &&
          prompt(`Rename ${a.providerID}/${a.alias}`, a.alias, (to) =>
            // The selection stays on the renamed account, wherever its new name sorts it.
            run("accounts.rename", { providerID: a.providerID, from: a.alias, to }, "renamed").then(
              (r) => r && setSelOf("accounts", () => V.selectItem("accounts", r)),
            ),
          )
        );
      case "remove":
        return a && confirm("Remove account", `Remove ${a.providerID}/${a.alias} from the balancer?`, () => run("accounts.remove", who, "removed"));
      case "toggleDisabled":
        return a && run("accounts.setDisabled", { ...who, disabled: !a.disabled }, a.disabled ? "enabled" : "disabled");
      case "resetCooldown":
        return a && run("accounts.resetCooldown", who, "cooldown cleared");
      case "refreshUsage":
        toast("info", "reading usage…");
        return run("usage.refresh", who ?? {}).then((r) => {
          if (!r) return;
          const { variant, message } = V.usageReadToast(r, who ?? {});
          toast(variant, message);
        });
      case "connect":
        api.ui.dialog.clear();
        return api.keymap.dispatchCommand("provider.connect");
      case "moveUp":
      case "moveDown": {
        // The selection follows the provider to its new place.
        return p && run("priority.move", { providerID: p.providerID, direction: action === "moveUp" ? -1 : 1 });
      }
      case "toggleEnabled":
        return p && run("priority.setEnabled", { providerID: p.providerID, enabled: !p.enabled });
      case "pickModel":
        return p && pickModel(p);
      case "toggleBalancing":
        return run("balancing.set", { enabled: !d.settings.balancing }, `balancing ${d.settings.balancing ? "off" : "on"}`);
      case "toggleFailover":
        return run("settings.set", { key: "failover", value: d.settings.failover === false }, "failover changed");
      case "savePending": {
        const c = selected("pending", d.pending);
        // An alias that exists: offer to replace that account's credential with this login.
        const offerReplace = (alias) => (e) => {
          if (e?.code !== -32002) return false;
          const name = `${c.providerID}/${alias.trim()}`;
          confirm("Replace account", `${name} already exists. Replace its credential with this login?`, () =>
            run("pending.save", { id: c.id, alias, replace: true }, `${name} replaced`),
          );
          return true;
        };
        return c && prompt(`Save the ${c.providerID} login as`, "", (alias) => run("pending.save", { id: c.id, alias }, "saved", offerReplace(alias)));
      }
      case "dismissPending": {
        const c = selected("pending", d.pending);
        return c && run("pending.dismiss", { id: c.id }, "dismissed");
      }
      case "close":
        return api.ui.dialog.clear();
    }
  }

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
            const accounts = data().accounts;
            const id = props?.session_id;
            const messages = id ? api.state?.session?.messages?.(id) : [];
            watch(id);
            const line = V.sidebarLine(accounts, V.sessionProvider(messages, accounts), now(), id ? sessions()[id] : null);
            return line ? el("text", { fg: theme(line.color) }, line.text) : null;
          });
          return box;
        }),
    },
  });
};

/** A guard key: V2 may load the TUI plugin twice in one process; it registers once. */
const V2_KEY = Symbol.for("opencode-balancer.tui.v2");

/** opencode 2's TUI entry: a no-op unless `api.keymap.layer` is V2's (tui/v2/). */
const setup = async (api) => {
  if (typeof api?.keymap?.layer !== "function") return;
  if (globalThis[V2_KEY]) return;
  globalThis[V2_KEY] = true;
  return setupV2Tui(api, {});
};

export default { id: ID, tui, setup };
