// The TUI dashboard's view logic, pure: accounts, usage, priority and events in, lines of text
// (with theme colour token names) and actions out. No opencode, no sidecar: node tests it alone.

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export { safeText } from "../common/safe-text.js";
import { safeText } from "../common/safe-text.js";

const REASONS = {
  rate_limit: "rate limited",
  quota: "quota used up",
  server_error: "server errors",
  auth_failed: "auth failed",
};

/** A duration in ms as "3d 4h", "2h 05m", "4m 12s", "12s" (negative counts as 0). */
export function duration(ms) {
  const t = Math.max(0, Math.round(ms / SECOND)) * SECOND;
  if (t >= DAY) return `${Math.floor(t / DAY)}d ${Math.floor((t % DAY) / HOUR)}h`;
  if (t >= HOUR) return `${Math.floor(t / HOUR)}h ${String(Math.floor((t % HOUR) / MINUTE)).padStart(2, "0")}m`;
  if (t >= MINUTE) return `${Math.floor(t / MINUTE)}m ${String(Math.floor((t % MINUTE) / SECOND)).padStart(2, "0")}s`;
  return `${Math.floor(t / SECOND)}s`;
}

/** "5m ago", "just now", "never". */
export function ago(at, now) {
  if (at == null) return "never";
  const d = now - at;
  return d < 5 * SECOND ? "just now" : `${duration(d)} ago`;
}

/** A bar of `width` cells for a percentage (clamped to 0–100). */
export function bar(percent, width = 10) {
  const p = Math.min(100, Math.max(0, Number(percent) || 0));
  const full = Math.round((p / 100) * width);
  return "█".repeat(full) + "░".repeat(width - full);
}

/** The colour token for a used percentage. */
export function usageColor(percent) {
  return percent >= 90 ? "error" : percent >= 70 ? "warning" : "success";
}

/** An account's state: {key, label, color}; keys active, healthy, cooling, disabled, login. */
export function accountState(a, now) {
  const cooling = a.coolingDownUntil != null && a.coolingDownUntil > now;
  const login = a.loginRequired === true || (a.authFailed === true && !cooling);
  if (a.disabled) return { key: "disabled", label: "disabled", color: "textMuted" };
  if (login) return { key: "login", label: "needs login (auth failed)", color: "error" };
  if (cooling) {
    const why = REASONS[a.cooldownReason] ?? "cooling down";
    return { key: "cooling", label: `cooling down ${duration(a.coolingDownUntil - now)} (${why})`, color: "warning" };
  }
  if (a.tokenExpiresAt != null && a.tokenExpiresAt <= now && a.authType === "oauth")
    return { key: "login", label: "token expired", color: "warning" };
  return a.active
    ? { key: "active", label: "active", color: "success" }
    : { key: "healthy", label: "healthy", color: "text" };
}

/** Accounts grouped by provider, providers and aliases sorted. */
export function groupByProvider(accounts) {
  const by = new Map();
  for (const a of accounts ?? []) {
    if (!by.has(a.providerID)) by.set(a.providerID, []);
    by.get(a.providerID).push(a);
  }
  return [...by.keys()].sort().map((providerID) => ({
    providerID,
    accounts: by.get(providerID).sort((x, y) => x.alias.localeCompare(y.alias)),
  }));
}

/** The usage windows of a snapshot as [{name, usedPercent, resetAt}] (the whole when no windows). */
export function usageWindows(u) {
  if (!u) return [];
  if (Array.isArray(u.windows) && u.windows.length > 0) return u.windows;
  if (typeof u.usedPercent === "number") return [{ name: u.planName ?? "used", usedPercent: u.usedPercent, resetAt: u.resetAt }];
  return [];
}

/** One line per usage window: "5h  ████░░░░░░  40%  resets in 2h 05m". */
export function usageLines(u, now, width = 10) {
  const out = [];
  for (const w of usageWindows(u)) {
    const reset = w.resetAt != null ? `  resets in ${duration(w.resetAt - now)}` : "";
    out.push({
      text: `      ${safeText(w.name).padEnd(6)} ${bar(w.usedPercent, width)} ${String(Math.round(w.usedPercent)).padStart(3)}%${reset}`,
      color: usageColor(w.usedPercent),
    });
  }
  if (out.length === 0 && u && u.confidence === "unavailable" && u.message)
    out.push({ text: `      usage: ${safeText(u.message)}`, color: "textMuted" });
  if (u?.error && out.length > 0) out.push({ text: `      last read failed: ${safeText(u.error)}`, color: "textMuted" });
  return out;
}

/** The selectable accounts in the order the dashboard shows them. */
export function accountOrder(accounts) {
  return groupByProvider(accounts).flatMap((g) => g.accounts);
}

/**
 * The accounts screen: [{text, color, account?, selected?}]. `sel` is an index into
 * accountOrder(accounts).
 */
export function accountLines(accounts, sel, now, opts = {}) {
  const lines = [];
  const order = accountOrder(accounts);
  if (order.length === 0) {
    lines.push({ text: "No accounts yet. Press C to connect one (opencode's own login); it shows up here by itself.", color: "textMuted" });
    return lines;
  }
  let i = 0;
  for (const g of groupByProvider(accounts)) {
    lines.push({ text: safeText(g.providerID), color: "primary", bold: true });
    for (const a of g.accounts) {
      const st = accountState(a, now);
      const mark = i === sel ? "›" : " ";
      const dot = a.active ? "●" : "○";
      lines.push({
        text: `${mark} ${dot} ${safeText(a.alias).padEnd(18)} ${safeText(st.label).padEnd(34)} used ${ago(a.lastUsedAt, now)}`,
        color: i === sel ? "accent" : st.color,
        account: a,
        selected: i === sel,
      });
      lines.push(...usageLines(a.usage, now, opts.barWidth ?? 10));
      i += 1;
    }
  }
  return lines;
}

/** The priority screen's lines; `sel` indexes `priority`. */
export function priorityLines(priority, settings, sel) {
  const lines = [
    {
      text: `Balancing ${settings?.balancing ? "ON" : "off"}   Failover ${settings?.failover === false ? "off" : "ON"}`,
      color: settings?.balancing ? "success" : "textMuted",
      bold: true,
    },
  ];
  if (!priority || priority.length === 0) {
    lines.push({ text: "No providers yet: one enters the list with its first account.", color: "textMuted" });
    return lines;
  }
  priority.forEach((p, i) => {
    const mark = i === sel ? "›" : " ";
    const on = p.enabled ? "[x]" : "[ ]";
    lines.push({
      text: `${mark} ${String(i + 1).padStart(2)}. ${on} ${safeText(p.providerID).padEnd(20)} ${p.modelID == null ? "(no model: Enter picks one)" : safeText(p.modelID)}`,
      color: i === sel ? "accent" : p.enabled ? "text" : "textMuted",
    });
  });
  return lines;
}

/** The event log's lines, newest first. */
export function eventLines(events, now, max = 20) {
  if (!events || events.length === 0) return [{ text: "No events yet.", color: "textMuted" }];
  return events.slice(0, max).map((e) => ({
    text: `${ago(e.createdAt, now).padStart(12)}  ${safeText(e.type).padEnd(26)} ${safeText(e.message)}`,
    color: /failed|exhausted|rate_limit/.test(e.type) ? "warning" : "text",
  }));
}

/** Pending logins (autoSave off); `sel` indexes `pending`; the empty line says what the current autoSave does. */
export function pendingLines(pending, sel, now, settings) {
  if (!pending || pending.length === 0) {
    const text =
      settings?.autoSave === false
        ? "No pending logins. autoSave is off: a new /connect login waits here until you save it (Enter)."
        : "No pending logins. autoSave is on: a new /connect login is saved as an account at once.";
    return [{ text, color: "textMuted" }];
  }
  return pending.map((p, i) => ({
    text: `${i === sel ? "›" : " "} ${safeText(p.providerID).padEnd(18)} ${safeText(p.authType).padEnd(6)} captured ${ago(p.capturedAt, now)}`,
    color: i === sel ? "accent" : "text",
  }));
}

export const HELP = {
  accounts: "↑↓ select · Enter activate · R rename · D remove · E enable/disable · X reset cooldown · U refresh usage · C new account · Tab priority · L events · N pending · Esc close",
  priority: "↑↓ select · Shift+↑↓ reorder · Space enable/disable · Enter model · B balancing · F failover · Tab accounts · Esc close",
  events: "Tab accounts · Esc close",
  pending: "↑↓ select · Enter save · D dismiss · Tab accounts · Esc close",
};

/** What a key does on a screen: an action name, or null. `key` is opentui's ({name, shift, ctrl}). */
export function keyAction(screen, key) {
  const n = key?.name;
  if (!n || key.ctrl || key.meta) return null;
  if (n === "escape") return "close";
  if (n === "tab") return screen === "accounts" ? "screen:priority" : "screen:accounts";
  if (n === "up" || n === "k") return key.shift && screen === "priority" ? "moveUp" : "up";
  if (n === "down" || n === "j") return key.shift && screen === "priority" ? "moveDown" : "down";
  const common = { l: "screen:events", n: "screen:pending", p: "screen:priority", a: "screen:accounts" };
  const per = {
    accounts: { return: "activate", r: "rename", d: "remove", delete: "remove", e: "toggleDisabled", x: "resetCooldown", u: "refreshUsage", c: "connect" },
    priority: { space: "toggleEnabled", return: "pickModel", b: "toggleBalancing", f: "toggleFailover" },
    events: {},
    pending: { return: "savePending", d: "dismissPending" },
  }[screen] ?? {};
  return per[n] ?? common[n] ?? null;
}

/** The provider a session uses: the last message that names one, else the only one with accounts. */
export function sessionProvider(messages, accounts) {
  for (let i = (messages?.length ?? 0) - 1; i >= 0; i--) {
    const m = messages[i];
    const p = m?.providerID ?? m?.model?.providerID;
    if (typeof p === "string" && p) return p;
  }
  const providers = new Set((accounts ?? []).map((a) => a.providerID));
  return providers.size === 1 ? [...providers][0] : null;
}

/**
 * A `session.get` answer as the TUI uses it: `{providerID, alias?, modelID?, movedTo?}` with
 * string members, else null (the server plugin's sidecar has not seen the session, or is old).
 */
export function sessionView(r) {
  if (r === null || typeof r !== "object" || typeof r.providerID !== "string" || r.providerID === "") return null;
  const out = { providerID: r.providerID };
  for (const k of ["alias", "modelID", "movedTo"]) if (typeof r[k] === "string" && r[k] !== "") out[k] = r[k];
  return out;
}

/**
 * The sidebar's one line, or null when there is nothing to say. With the session's binding
 * (`sessionView`): the provider and account the session is on — after a failover or a move, the
 * one that answered, whatever the provider's active account is. Without: `providerID`'s active
 * account (the session has not sent a request through the balancer yet).
 */
export function sidebarLine(accounts, providerID, now, session = null) {
  if (session?.providerID) providerID = session.providerID;
  if (!providerID) return null;
  const mine = (accounts ?? []).filter((a) => a.providerID === providerID);
  if (mine.length === 0) return null;
  const active = mine.find((a) => a.alias === session?.alias) ?? mine.find((a) => a.active) ?? mine[0];
  const parts = [`Balancer ${providerID}/${active.alias}`];
  const w = usageWindows(active.usage);
  if (w.length > 0) parts.push(`${Math.max(0, 100 - Math.round(Math.max(...w.map((x) => x.usedPercent))))}% left`);
  const st = accountState(active, now);
  if (st.key === "cooling" || st.key === "login" || st.key === "disabled") parts.push(st.label);
  const color = st.key === "active" || st.key === "healthy" ? "textMuted" : st.color;
  return { text: safeText(parts.join(" · ")), color };
}

/**
 * What to tell the user when every account of `provider` rests: where its turns went when the
 * balancer moved them (a `provider_switched` event from it in the last minute), else that the
 * accounts rest. Never a failure when the answer is on its way from another provider (issue 30).
 */
export function restingMessage(provider, events, now) {
  const moved = (events ?? []).find(
    (e) => e.type === "provider_switched" && e.metadata?.from === provider && now - (e.createdAt ?? 0) < 60_000,
  );
  if (moved) {
    const to = moved.metadata.to + (moved.metadata.model ? `/${moved.metadata.model}` : "");
    return { text: safeText(`${provider} has no account left; turns moved to ${to}.`), variant: "info" };
  }
  return { text: safeText(`Every account of ${provider} is cooling down or needs a login.`), variant: "warning" };
}

/**
 * The toast after Enter activated `account` (what is true: new sessions start on it; a running
 * session keeps its account while that is healthy; `session` is the one the dashboard is over).
 */
export function activatedMessage(account, settings, session = null) {
  const name = `${account.providerID}/${account.alias}`;
  const strategy = settings?.strategy ?? "sticky";
  const starts =
    strategy === "sticky"
      ? "new sessions start on it"
      : `new sessions pick by the ${strategy} strategy (the active account first only with sticky)`;
  const here =
    session?.providerID === account.providerID && session.alias && session.alias !== account.alias
      ? `this session stays on ${session.providerID}/${session.alias} while that account is healthy`
      : "a running session keeps its account while that account is healthy";
  return safeText(`${name} is active: ${starts}; ${here}.`);
}

/** Providers whose every enabled account is cooling down or needs a login (none enabled: skipped). */
export function exhaustedProviders(accounts, now) {
  return groupByProvider(accounts)
    .filter((g) => {
      const on = g.accounts.filter((a) => !a.disabled);
      return on.length > 0 && on.every((a) => ["cooling", "login"].includes(accountState(a, now).key));
    })
    .map((g) => g.providerID);
}

/** The dashboard's title line: the screen tabs and the sidecar's state. */
export function titleLine(screen, conn) {
  const tabs = ["accounts", "priority", "events", "pending"].map((s) => (s === screen ? `[${s}]` : ` ${s} `)).join(" ");
  const state = conn?.state === "ready" ? "" : conn?.state === "starting" ? "  · starting the sidecar…" : `  · sidecar unavailable: ${safeText(conn?.reason ?? "not running")}`;
  return { text: `Balancer  ${tabs}${state}`, color: conn?.state === "down" ? "error" : "primary", bold: true };
}

/** Moves a selection by `d` within `count` items. */
export function moveSel(sel, d, count) {
  if (count <= 0) return 0;
  return Math.min(count - 1, Math.max(0, sel + d));
}

// --- selections that follow the item, not the row ----------------------------------------

/** The key a selection follows: an account by provider/alias, a provider, a pending login's id. */
export function itemKey(kind, item) {
  if (!item) return null;
  if (kind === "accounts") return `${item.providerID}/${item.alias}`;
  if (kind === "priority") return item.providerID;
  return item.id;
}

/**
 * The row a selection `{key, index}` is on in `list`: the row of its item while that is listed
 * (wherever a rename, an addition or a reorder put it), else the row it was on, clamped (the item
 * went away: its neighbour is selected).
 */
export function selIndex(kind, list, sel) {
  const n = list?.length ?? 0;
  if (n === 0) return 0;
  const i = sel?.key == null ? -1 : list.findIndex((x) => itemKey(kind, x) === sel.key);
  return i >= 0 ? i : moveSel(sel?.index ?? 0, 0, n);
}

/** The selection after moving by `d` rows in `list` (0: re-anchored on the row it shows). */
export function moveSelOf(kind, list, sel, d) {
  const index = moveSel(selIndex(kind, list, sel), d, list?.length ?? 0);
  return { key: itemKey(kind, list?.[index]), index };
}

/** The selection on one item (e.g. an account after its rename). */
export function selectItem(kind, item, index = 0) {
  return { key: itemKey(kind, item), index };
}

// --- sub-dialogs (rename, remove, model, save) over the dashboard ---------------------------

/** How long after a sub-dialog closes the dashboard comes back (after opencode's 1 ms refocus). */
export const REOPEN_MS = 10;

/**
 * Opens a sub-dialog of the dashboard so that however it ends — Esc, Ctrl+C, a confirm or a
 * cancel — the dashboard comes back, once. `dialog` is opencode's `api.ui.dialog`: `replace(render,
 * onClose)` calls the onClose of every dialog it replaces, and Esc calls the top one's onClose
 * and only then pops it (reopening inside onClose would be popped by that same Esc). Closing the
 * last dialog also gives the prompt its focus back 1 ms later (opencode 1.18.33), so the dashboard
 * is reopened after that (`REOPEN_MS`): it then takes the focus from the prompt as when first
 * opened, and the next key goes to the dashboard, not into the prompt. The returned `done()` is
 * what a confirm calls before its own work; `leave()` ends it without going back.
 */
export function subDialog(dialog, render, back, defer = (f) => setTimeout(f, REOPEN_MS)) {
  let ended = false;
  const end = (reopen) => {
    if (ended) return false;
    ended = true;
    if (reopen) defer(back);
    return true;
  };
  dialog.replace(render, () => end(true));
  return { done: () => end(true), leave: () => end(false) };
}

/** The toast after `usage.refresh` of `who` ({providerID, alias} or {} for all): {variant, message}. */
export function usageReadToast(snapshots, who) {
  const list = Array.isArray(snapshots) ? snapshots : [];
  const name = (u) => `${safeText(u.providerID)}/${safeText(u.alias)}`;
  const noEndpoint = list.filter((u) => typeof u?.error === "string" && u.error.startsWith("unsupported"));
  const failed = list.filter((u) => u?.error && !noEndpoint.includes(u));
  if (who?.alias !== undefined) {
    const label = `${safeText(who.providerID)}/${safeText(who.alias)}`;
    if (noEndpoint.length > 0) return { variant: "info", message: `no usage endpoint for ${label}` };
    if (failed.length > 0) return { variant: "warning", message: `usage of ${label} not read: ${safeText(failed[0].error)}` };
    return { variant: "success", message: `usage of ${label} read` };
  }
  const read = list.length - noEndpoint.length - failed.length;
  const parts = [`usage read for ${read} account${read === 1 ? "" : "s"}`];
  if (failed.length > 0) parts.push(`not read: ${failed.map(name).join(", ")}`);
  if (noEndpoint.length > 0) parts.push(`no usage endpoint: ${noEndpoint.map(name).join(", ")}`);
  return { variant: failed.length > 0 ? "warning" : "success", message: parts.join("; ") };
}

/** What a dashboard action does, in words, for a message when it fails. */
const DOING = {
  "accounts.activate": "Activating the account",
  "accounts.rename": "Renaming the account",
  "accounts.remove": "Removing the account",
  "accounts.setDisabled": "Enabling or disabling the account",
  "accounts.resetCooldown": "Clearing the cooldown",
  "usage.refresh": "Reading usage",
  "priority.move": "Moving the provider",
  "priority.setEnabled": "Enabling or disabling the provider",
  "priority.setModel": "Setting the provider's model",
  "balancing.set": "Switching balancing",
  "settings.set": "Changing the setting",
  "pending.save": "Saving the login",
  "pending.dismiss": "Dismissing the login",
};

/** What to do about a sidecar error code (docs/protocol.md), for the end of a failure message. */
const WHAT_TO_DO = {
  [-32001]: "It may have been removed elsewhere; the list is read again.",
  [-32002]: "Choose another name.",
  [-32004]: "It was saved or dismissed elsewhere; the list is read again.",
  [-32005]: "Check that the store's folder is writable (opencode-balancer doctor).",
};

/** The toast for a failed dashboard action: the thing, what went wrong, what to do; no method names. */
export function failureMessage(method, error) {
  const doing = DOING[method] ?? "That";
  const reason = safeText(error?.message ?? String(error ?? "unknown error"));
  const todo = WHAT_TO_DO[error?.code];
  return `${doing} failed: ${reason}.${todo ? ` ${todo}` : ""}`.replace(/\.\.(\s|$)/g, ".$1");
}
