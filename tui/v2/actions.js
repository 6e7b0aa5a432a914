// What the V2 dashboard's keys do: view.js's keyAction names an action; this runs it — on the
// sidecar for the balancer's own state (cooldowns, usage, priority, settings, pending logins), on
// opencode 2 for what belongs to opencode 2: an account mirrored from one of its credentials is
// activated, renamed and removed through V2's own credential API (api.client.credential), never
// by writing V2's database. Sub-dialogs are V2's promise dialogs; each brings the dashboard back.
import * as V from "../view.js";

/** An account that is one of opencode 2's own credentials (the sidecar mirrors them as `owner: "opencode2"`). */
export function isV2Credential(a) {
  return a?.owner === "opencode2" && typeof a.credentialID === "string" && a.credentialID !== "";
}

/**
 * The dashboard's actions over `state` (state.js). `api` is V2's TUI plugin API; `reopen()` shows
 * the dashboard again on its screen; `toast(variant, message)` tells the user.
 */
export function createActions({ api, state, reopen, toast }) {
  const done = (message) => {
    if (message) toast("success", message);
    state.scheduleRefresh();
  };
  const failed = (method) => (e) => {
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
        if (onError?.(e)) return state.scheduleRefresh();
        failed(method)(e);
      },
    );
  /** A call to opencode 2 for what it owns, true when it worked; failures say what failed, as the sidecar's do. */
  const v2 = (method, f, message) =>
    Promise.resolve()
      .then(f)
      .then(
        () => (done(message), true),
        (e) => (failed(method)(e), false),
      );

  /** V2's dialog `kind` ("prompt", "confirm", "select"); the dashboard comes back however it ends. */
  async function ask(kind, options) {
    let answer;
    try {
      answer = await api.ui.dialog[kind](options);
    } finally {
      reopen();
    }
    return answer;
  }

  const credential = () => api.client?.credential;

  function activate(a, d) {
    const message = V.activatedMessage(a, d.settings);
    if (isV2Credential(a)) return v2("accounts.activate", () => credential().activate({ credentialID: a.credentialID }), message);
    return call("accounts.activate", { providerID: a.providerID, alias: a.alias }, message);
  }

  async function rename(a) {
    const to = await ask("prompt", { title: `Rename ${a.providerID}/${a.alias}`, value: a.alias, placeholder: a.alias });
    if (typeof to !== "string") return;
    // The selection stays on the renamed account, wherever its new name sorts it.
    const follow = (alias) => state.setSelOf("accounts", () => V.selectItem("accounts", { providerID: a.providerID, alias }));
    if (isV2Credential(a)) {
      if (await v2("accounts.rename", () => credential().update({ credentialID: a.credentialID, label: to }), "renamed")) follow(to.trim());
      return;
    }
    const r = await call("accounts.rename", { providerID: a.providerID, from: a.alias, to }, "renamed");
    if (r) follow(r.alias);
  }

  async function remove(a) {
    const name = `${a.providerID}/${a.alias}`;
    const message = isV2Credential(a)
      ? `Remove ${name}? It is one of opencode's own credentials: opencode forgets it (its login is gone).`
      : `Remove ${name} from the balancer?`;
    if ((await ask("confirm", { title: "Remove account", message: V.safeText(message) })) !== true) return;
    if (isV2Credential(a)) return v2("accounts.remove", () => credential().remove({ credentialID: a.credentialID }), "removed");
    return call("accounts.remove", { providerID: a.providerID, alias: a.alias }, "removed");
  }

  async function pickModel(entry) {
    const known = api.data?.location?.model?.list?.(api.location) ?? [];
    const models = known
      .filter((m) => m?.providerID === entry.providerID && m.status !== "deprecated")
      .map((m) => ({ title: V.safeText(m.name ?? m.id), value: m.id, description: V.safeText(m.id) }));
    if (models.length === 0) return toast("warning", `opencode knows no models for ${entry.providerID}`);
    const modelID = await ask("select", { title: `Model for ${entry.providerID}`, options: models });
    if (typeof modelID !== "string") return;
    return call("priority.setModel", { providerID: entry.providerID, modelID }, `${entry.providerID} uses ${modelID}`);
  }

  async function savePending(c) {
    const alias = await ask("prompt", { title: `Save the ${c.providerID} login as`, value: "", placeholder: "" });
    if (typeof alias !== "string") return;
    // An alias that exists: offer to replace that account's credential with this login.
    const offerReplace = (e) => {
      if (e?.code !== -32002) return false;
      const name = `${c.providerID}/${alias.trim()}`;
      ask("confirm", { title: "Replace account", message: `${name} already exists. Replace its credential with this login?` }).then((yes) =>
        yes === true ? call("pending.save", { id: c.id, alias, replace: true }, `${name} replaced`) : undefined,
      );
      return true;
    };
    return call("pending.save", { id: c.id, alias }, "saved", offerReplace);
  }

  /** Runs the action a key `{name, shift}` means on the current screen; false when it means none. */
  function onKey(key) {
    const s = state.screen();
    const action = V.keyAction(s, key);
    if (!action) return false;
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
        api.ui.dialog.clear();
        return api.keymap.dispatch?.("provider.connect");
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
        return api.ui.dialog.clear();
    }
  }

  return { onKey };
}
