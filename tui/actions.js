// What the dashboard's keys do, both hosts: view.js's keyAction names an action; this runs it —
// on the sidecar for the balancer's own state (cooldowns, usage, priority, settings, pending
// logins), on opencode 2 for what belongs to it: an account mirrored from one of its credentials
// is activated, renamed and removed through V2's own credential API, never by writing V2's
// database. What differs between hosts comes in `host` (tui/index.js for V1, tui/v2/host.js).
import * as V from "./view.js";

/** An account that is one of opencode 2's own credentials (the sidecar mirrors them as `owner: "opencode2"`). */
export function isV2Credential(a) {
  return a?.owner === "opencode2" && typeof a.credentialID === "string" && a.credentialID !== "";
}

/**
 * The dashboard's actions over `state` (state.js). `toast(variant, message)` tells the user;
 * `host` is what the host gives:
 * - `ask(kind, options)`: a sub-dialog ("prompt" {title, value, placeholder}, "confirm" {title,
 *   message}, "select" {title, options: [{title, value, description}]}) over the dashboard,
 *   resolving to the answer (true for a confirm) or undefined; the dashboard comes back after it,
 * - `models(providerID)`: the models the host knows for a provider, as select options,
 * - `session()`: the binding of the session the dashboard is over, or null,
 * - `connect()`: the host's own login dialog, `close()`: closes the dashboard,
 * - `credential`: V2's credential API (`activate`, `update`, `remove`), or null.
 */
export function createActions({ state, host, toast }) {
  const done = (message) => {
    if (message) toast("success", message);
    state.scheduleRefresh();
  };
  const failed = (method, e) => {
    state.scheduleRefresh();
    toast("error", V.failureMessage(method, e));
  };
  /** A sidecar call; `onError(e)` returning true has handled a failure. Resolves to the result or undefined. */
  const call = (method, params, message, onError) =>
    state.client.call(method, params, 30_000).then(
      (r) => {
        done(message);
        return r;
      },
      (e) => {
        if (onError?.(e)) return void state.scheduleRefresh();
        failed(method, e);
      },
    );
  /** A call to opencode 2 for what it owns, true when it worked; failures say what failed, as the sidecar's do. */
  const v2 = (method, f, message) =>
    Promise.resolve()
      .then(f)
      .then(
        () => (done(message), true),
        (e) => (failed(method, e), false),
      );
  const owned = (a) => isV2Credential(a) && host.credential;

  function activate(a, d) {
    const message = V.activatedMessage(a, d.settings, host.session?.() ?? null);
    if (owned(a)) return v2("accounts.activate", () => host.credential.activate({ credentialID: a.credentialID }), message);
    return call("accounts.activate", { providerID: a.providerID, alias: a.alias }, message);
  }

  async function rename(a) {
    const to = await host.ask("prompt", { title: `Rename ${a.providerID}/${a.alias}`, value: a.alias, placeholder: a.alias });
    if (typeof to !== "string") return;
    // The selection stays on the renamed account, wherever its new name sorts it.
    const follow = (alias) => state.setSelOf("accounts", () => V.selectItem("accounts", { providerID: a.providerID, alias }));
    if (owned(a)) {
      if (await v2("accounts.rename", () => host.credential.update({ credentialID: a.credentialID, label: to }), "renamed")) follow(to.trim());
      return;
    }
    const r = await call("accounts.rename", { providerID: a.providerID, from: a.alias, to }, "renamed");
    if (r) follow(r.alias);
  }

  async function remove(a) {
    const name = `${a.providerID}/${a.alias}`;
    const message = owned(a)
      ? `Remove ${name}? It is one of opencode's own credentials: opencode forgets it (its login is gone).`
      : `Remove ${name} from the balancer?`;
    if ((await host.ask("confirm", { title: "Remove account", message: V.safeText(message) })) !== true) return;
    if (owned(a)) return v2("accounts.remove", () => host.credential.remove({ credentialID: a.credentialID }), "removed");
    return call("accounts.remove", { providerID: a.providerID, alias: a.alias }, "removed");
  }

  async function pickModel(entry) {
    const models = host.models(entry.providerID);
    if (models.length === 0) return toast("warning", `opencode knows no models for ${entry.providerID}`);
    const modelID = await host.ask("select", { title: `Model for ${entry.providerID}`, options: models });
    if (typeof modelID !== "string") return;
    return call("priority.setModel", { providerID: entry.providerID, modelID }, `${entry.providerID} uses ${modelID}`);
  }

  async function savePending(c) {
    const alias = await host.ask("prompt", { title: `Save the ${c.providerID} login as`, value: "", placeholder: "" });
    if (typeof alias !== "string") return;
    // An alias that exists: offer to replace that account's credential with this login.
    const offerReplace = (e) => {
      if (e?.code !== -32002) return false;
      const name = `${c.providerID}/${alias.trim()}`;
      host
        .ask("confirm", { title: "Replace account", message: `${name} already exists. Replace its credential with this login?` })
        .then((yes) => (yes === true ? call("pending.save", { id: c.id, alias, replace: true }, `${name} replaced`) : undefined));
      return true;
    };
    return call("pending.save", { id: c.id, alias }, "saved", offerReplace);
  }

  /** Runs the action a key (opentui's {name, shift}) means on the current screen; false when it means none. */
  function onKey(key) {
    const s = state.screen();
    const action = V.keyAction(s, key);
    if (!action) return false;
    if (action !== "close") key.preventDefault?.();
    const d = state.data();
    if (action.startsWith("screen:")) return void state.setScreen(action.slice(7));
    if (action === "up" || action === "down") {
      if (s !== "events") state.setSelOf(s, (x) => V.moveSelOf(s, state.listOf(s, d), x, action === "up" ? -1 : 1));
      return;
    }
    const a = state.selected("accounts", d);
    const p = state.selected("priority", d);
    const who = a && { providerID: a.providerID, alias: a.alias };
    switch (action) {
      case "activate":
        return a && activate(a, d);
      case "rename":
        return a && rename(a);
      case "remove":
        return a && remove(a);
      case "toggleDisabled":
        return a && call("accounts.setDisabled", { ...who, disabled: !a.disabled }, a.disabled ? "enabled" : "disabled");
      case "resetCooldown":
        return a && call("accounts.resetCooldown", who, "cooldown cleared");
      case "refreshUsage":
        toast("info", "reading usage…");
        return call("usage.refresh", who ?? {}).then((r) => {
          if (!r) return;
          const { variant, message } = V.usageReadToast(r, who ?? {});
          toast(variant, message);
        });
      case "connect":
        return host.connect();
      case "moveUp":
      case "moveDown":
        // The selection follows the provider to its new place.
        return p && call("priority.move", { providerID: p.providerID, direction: action === "moveUp" ? -1 : 1 });
      case "toggleEnabled":
        return p && call("priority.setEnabled", { providerID: p.providerID, enabled: !p.enabled });
      case "pickModel":
        return p && pickModel(p);
      case "toggleBalancing":
        return call("balancing.set", { enabled: !d.settings.balancing }, `balancing ${d.settings.balancing ? "off" : "on"}`);
      case "toggleFailover":
        return call("settings.set", { key: "failover", value: d.settings.failover === false }, "failover changed");
      case "savePending": {
        const c = state.selected("pending", d);
        return c && savePending(c);
      }
      case "dismissPending": {
        const c = state.selected("pending", d);
        return c && call("pending.dismiss", { id: c.id }, "dismissed");
      }
      case "close":
        return host.close();
    }
  }

  return { onKey };
}
