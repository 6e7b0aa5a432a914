// The dashboard's selections (which follow their item, not the row) and its sub-dialogs over
// the dashboard (opencode 1.18.33's dialog stack): pure, node tests them alone. view.js
// re-exports them.

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
