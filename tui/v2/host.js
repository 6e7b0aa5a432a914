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
    get credential() {
      return api.client?.credential ?? null;
    },
  };
}
