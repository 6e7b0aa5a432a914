// A fake of opencode 2's (2.1.2) TUI plugin API as far as tui/v2 uses it, shaped like
// /work/shared/OPENCODE-V2.md and V2's bundled code: keymap.layer (a layer made while a dialog
// renders lives as long as that dialog, as V2 ties it to the rendering owner), the dialog stack
// (show/set/clear and the promise dialogs prompt/confirm/select; Esc calls the top's onClose and
// pops it), toast.show, slot, model.current, client.credential, data.

/** The fake API; `press(bind)` runs the command a key is bound to in the topmost active layer. */
export function fakeV2Api({ models = [], messages = {}, currentModel, options = {}, credentials } = {}) {
  const layers = []; // {spec, owner}: owner is the dialog entry it was made in, or null
  const slots = [];
  const toasts = [];
  const credentialCalls = [];
  const dispatched = [];
  const stack = [];
  let rendering = null;

  const dialog = {
    stack,
    sizes: [],
    show(render, onClose) {
      for (const e of stack.splice(0)) e.onClose?.();
      stack.push({ render, onClose, element: null });
    },
    set(o) {
      dialog.sizes.push(o.size);
    },
    clear() {
      for (const e of stack.splice(0)) e.onClose?.();
    },
    /** Renders the top dialog again (the fake solid is not reactive) and returns its element. */
    top() {
      const e = stack.at(-1);
      if (!e) return undefined;
      for (let i = layers.length - 1; i >= 0; i--) if (layers[i].owner === e) layers.splice(i, 1);
      rendering = e;
      try {
        e.element = e.render();
      } finally {
        rendering = null;
      }
      return e.element;
    },
    /** Esc: V2's modal layer calls the top dialog's onClose, then pops it. */
    escape() {
      const e = stack.at(-1);
      e?.onClose?.();
      const i = stack.indexOf(e);
      if (i >= 0) stack.splice(i, 1);
    },
  };
  /** V2's promise dialogs: the element is {dialog, options, answer(v)}; answering clears the stack. */
  for (const kind of ["prompt", "confirm", "select"]) {
    dialog[kind] = (opts) =>
      new Promise((resolve) => {
        let settled = false;
        const once = (v) => {
          if (settled) return;
          settled = true;
          resolve(v);
        };
        const element = {
          dialog: kind,
          options: opts,
          answer(v) {
            once(v);
            dialog.clear();
          },
        };
        dialog.show(() => element, () => once(undefined));
      });
  }

  const api = {
    options,
    location: { directory: "/tmp/fake-location" },
    app: { version: "2.1.2" },
    theme: {
      text: {
        base: "#eeeeee",
        muted: "#808080",
        action: { primary: { base: "#5599ff", focused: "#77bbff" } },
        feedback: { success: { base: "#00aa00" }, warning: { base: "#aaaa00" }, error: { base: "#aa0000" } },
      },
    },
    keymap: {
      layer(f) {
        layers.push({ spec: typeof f === "function" ? f() : f, owner: rendering });
      },
      dispatch: (id) => dispatched.push(id),
    },
    ui: {
      dialog,
      toast: { show: (t) => toasts.push(t) },
      slot: (s) => slots.push(s),
      model: { current: () => currentModel },
    },
    client: {
      credential: Object.fromEntries(
        ["activate", "update", "remove"].map((m) => [
          m,
          async (args) => {
            credentialCalls.push([m, args]);
            // With `credentials` (V2's table: [{id, integrationID, label, active}]), activate makes
            // its id the provider's one active credential, as V2 does.
            const c = credentials?.find((x) => x.id === args.credentialID);
            if (m === "activate" && c) for (const x of credentials) if (x.integrationID === c.integrationID) x.active = x === c;
            return {};
          },
        ]),
      ),
    },
    data: {
      location: { model: { list: () => models } },
      session: { message: { list: (id) => messages[id] ?? [] } },
    },
    attention: { notify() {} },
  };

  // V2's credential.list answers with the secrets too; the fake gives an obviously fake one.
  if (credentials) api.client.credential.list = async () => credentials.map((c) => ({ ...c, value: { type: "key", key: "sk-FAKE" } }));
  /** The layers in force now: global ones and those of dialogs still open. */
  const active = () => layers.filter((l) => l.owner === null || stack.includes(l.owner));
  function press(bind) {
    for (const l of active().reverse()) {
      const c = (l.spec.commands ?? []).find((x) => String(x.bind ?? "").split(",").includes(bind));
      if (c) return c.run();
    }
    if (bind === "escape" && stack.length) return dialog.escape();
    throw new Error(`nothing is bound to ${bind}`);
  }
  return { api, layers, active, slots, toasts, credentialCalls, dispatched, dialog, press };
}

/**
 * A fake client-only sidecar (tui/rpc.js `Client`'s surface: start, stop, call) holding accounts,
 * priority, settings, events and pending logins; it records every call and answers as
 * docs/protocol.md says, with an error `{code, message}` for an unknown method.
 */
export function fakeSidecar(world = {}) {
  const calls = [];
  const w = {
    accounts: world.accounts ?? [],
    priority: world.priority ?? [],
    settings: world.settings ?? { balancing: false, failover: true, strategy: "sticky" },
    events: world.events ?? [],
    pending: world.pending ?? [],
  };
  const answers = {
    "accounts.list": () => w.accounts,
    "priority.list": () => w.priority,
    "settings.get": () => w.settings,
    "events.list": () => w.events,
    "pending.list": () => w.pending,
    "accounts.activate": (p) => {
      for (const a of w.accounts) if (a.providerID === p.providerID) a.active = a.alias === p.alias;
      return {};
    },
    "accounts.setDisabled": () => ({}),
    "accounts.resetCooldown": () => ({}),
    "accounts.remove": () => ({}),
    "accounts.rename": (p) => ({ providerID: p.providerID, alias: p.to }),
    "usage.refresh": () => [],
    "priority.move": () => ({}),
    "priority.setEnabled": () => ({}),
    "priority.setModel": () => ({}),
    "balancing.set": () => ({}),
    "settings.set": () => ({}),
    "pending.save": () => ({}),
    "pending.dismiss": () => ({}),
  };
  let opts = null;
  const client = {
    started: 0,
    stopped: 0,
    start() {
      client.started += 1;
      queueMicrotask(() => opts?.onState?.({ state: "ready", reason: null }));
    },
    stop() {
      client.stopped += 1;
    },
    async call(method, params = {}) {
      calls.push([method, params]);
      const f = answers[method];
      if (!f) throw Object.assign(new Error(`unknown method ${method}`), { code: -32601 });
      return structuredClone(f(params));
    },
    /** Pushes a notification as the sidecar would. */
    notify: (method, params) => opts?.onNotification?.(method, params),
  };
  return {
    world: w,
    calls,
    client,
    createClient(o) {
      opts = o;
      return client;
    },
  };
}
