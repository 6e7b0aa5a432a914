// What the dashboard's actions (tui/actions.js) get from opencode 2's TUI: its promise dialogs,
// after which the dashboard comes back; the models V2 knows; its /connect; its credential API.
import { safeText } from "../view.js";

/** The V2 host over `api`; `reopen()` shows the dashboard again on its screen. */
export function createV2Host(api, reopen) {
  return {
    async ask(kind, options) {
      try {
        return await api.ui.dialog[kind](options);
      } finally {
        reopen();
      }
    },
    models(providerID) {
      const known = api.data?.location?.model?.list?.(api.location) ?? [];
      return known
        .filter((m) => m?.providerID === providerID && m.status !== "deprecated")
        .map((m) => ({ title: safeText(m.name ?? m.id), value: m.id, description: safeText(m.id) }));
    },
    // V1's relay of the session's binding does not reach V2's server process (docs/tui.md).
    session: () => null,
    connect() {
      api.ui.dialog.clear();
      api.keymap.dispatch?.("provider.connect");
    },
    close: () => api.ui.dialog.clear(),
    /**
     * `data` with each opencode 2 credential's `active` as V2 has it now: the store's mirror of
     * it follows only once a sidecar with the opencode.db watcher (the server plugin's, started
     * on the first request) has seen the change. Only ids and flags are kept of V2's answer.
     */
    async withV2Active(data) {
      const list = await api.client?.credential?.list?.();
      if (!Array.isArray(list)) return data;
      const active = new Map(list.map((c) => [c?.id, c?.active === true]));
      const accounts = (data.accounts ?? []).map((a) =>
        a?.owner === "opencode2" && active.has(a.credentialID) ? { ...a, active: active.get(a.credentialID) } : a,
      );
      return { ...data, accounts };
    },
    get credential() {
      return api.client?.credential ?? null;
    },
  };
}
