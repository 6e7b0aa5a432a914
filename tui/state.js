// The dashboard's state, both hosts: its own client-only sidecar (rpc.js), the lists it shows
// (re-read on the sidecar's `event`/`store.changed`, coalesced), the clock countdowns are drawn
// from, the screen and the selections (which follow their item: view.js), and the
// once-per-provider "every account rests" toast. No host API here but what it is given.
import { createSignal } from "solid-js";
import * as V from "./view.js";

/** What one refresh reads: [field, method, params]. */
const READS = [
  ["accounts", "accounts.list", {}],
  ["priority", "priority.list", {}],
  ["settings", "settings.get", {}],
  ["events", "events.list", { limit: 30 }],
  ["pending", "pending.list", {}],
];

/** How long `store.changed`/`event` notifications are gathered into one refresh. */
export const REFRESH_MS = 80;

/**
 * The state. `createClient({onState, onNotification})` makes the sidecar client (`start`, `stop`,
 * `call(method, params, timeoutMs)`); `notify({variant, message, duration, attention})` tells the
 * user something; `adjust(data)` may correct what was read before it is shown (V2: its own
 * active credentials); `onRefresh(data)` runs after each refresh.
 */
export function createState({ createClient, notify, adjust, onRefresh }) {
  const [data, setData] = createSignal({ accounts: [], priority: [], settings: {}, events: [], pending: [] });
  const [conn, setConn] = createSignal({ state: "starting", reason: null });
  const [now, setNow] = createSignal(Date.now());
  const [screen, setScreen] = createSignal("accounts");
  const [sel, setSel] = createSignal({ accounts: {}, priority: {}, pending: {} });
  const announced = new Set();
  let refreshTimer = null;

  const client = createClient({
    onState: (c) => {
      setConn(c);
      if (c.state === "ready") refresh();
    },
    onNotification: (method) => {
      if (method === "event" || method === "store.changed") scheduleRefresh();
    },
  });

  function listOf(kind, d = data()) {
    return kind === "accounts" ? V.accountOrder(d.accounts) : (d[kind] ?? []);
  }
  const setSelOf = (kind, f) => setSel((s) => ({ ...s, [kind]: f(s[kind]) }));
  /** The selected row of `kind` in `d`, and its item. */
  const selRow = (kind, d = data()) => V.selIndex(kind, listOf(kind, d), sel()[kind]);
  const selected = (kind, d = data()) => listOf(kind, d)[selRow(kind, d)];

  function scheduleRefresh() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      refresh();
    }, REFRESH_MS);
    refreshTimer.unref?.();
  }

  async function refresh() {
    const got = await Promise.allSettled(READS.map(([, m, p]) => client.call(m, p)));
    let next = { ...data() };
    got.forEach((r, i) => {
      if (r.status === "fulfilled") next[READS[i][0]] = r.value ?? next[READS[i][0]];
    });
    if (adjust) next = await adjust(next).catch(() => next);
    setData(next);
    // Re-anchor each selection on the row its item is on now (a removed item: its neighbour).
    for (const kind of ["accounts", "priority", "pending"]) setSelOf(kind, (x) => V.moveSelOf(kind, listOf(kind, next), x, 0));
    attention(next.accounts, next.events);
    onRefresh?.(next);
    return next;
  }

  /** Says once per spell that every account of a provider rests (issue 30's wording). */
  function attention(accounts, events) {
    const t = Date.now();
    const out = V.exhaustedProviders(accounts, t);
    for (const p of [...announced]) if (!out.includes(p)) announced.delete(p);
    for (const p of out.filter((x) => !announced.has(x))) {
      announced.add(p);
      const { text, variant } = V.restingMessage(p, events, t);
      notify({ variant, message: text, duration: 8000, attention: true });
    }
  }

  const tick = setInterval(() => setNow(Date.now()), 1000);
  tick.unref?.();

  return {
    client,
    data,
    conn,
    now,
    screen,
    setScreen,
    sel,
    setSelOf,
    selRow,
    selected,
    listOf,
    refresh,
    scheduleRefresh,
    start: () => client.start(),
    stop() {
      clearInterval(tick);
      if (refreshTimer) clearTimeout(refreshTimer);
      refreshTimer = null;
      client.stop();
    },
  };
}
