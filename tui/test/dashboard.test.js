// The dashboard's sub-dialogs and selections (tui/view.js) against a fake of opencode 1.18.33's
// dialog stack: replace(render, onClose) closes (calls onClose of) every dialog it replaces; Esc
// and Ctrl+C call the top dialog's onClose and then pop it; clear() closes them all.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as V from "../view.js";
import { fakeDialog } from "./fakes/opencode.mjs";

/** The dashboard open in the fake, a sub-dialog over it, and the deferred work (microtasks). */
function world() {
  const dialog = fakeDialog();
  const later = [];
  let reopened = 0;
  const back = () => {
    reopened += 1;
    dialog.replace("dashboard");
  };
  dialog.replace("dashboard");
  const open = (name) => V.subDialog(dialog, name, back, (f) => later.push(f));
  const settle = () => later.splice(0).forEach((f) => f());
  return { dialog, open, settle, reopened: () => reopened };
}

test("Esc on a sub-dialog (rename, remove, model) returns to the dashboard, not to the prompt", () => {
  for (const name of ["rename", "remove", "model", "save-pending"]) {
    const w = world();
    w.open(name);
    assert.equal(w.dialog.top, name);
    w.dialog.escape();
    w.settle();
    assert.equal(w.dialog.top, "dashboard", name);
    // A dialog is open, so the next key goes to the dashboard, not into opencode's prompt.
    assert.equal(w.dialog.open, true, name);
    assert.equal(w.reopened(), 1, name);
  }
});

test("the dashboard comes back after the Esc is handled: reopened inside onClose, the same Esc would pop it", () => {
  const w = world();
  w.open("remove");
  w.dialog.escape();
  assert.equal(w.dialog.open, false, "not yet: the reopen waits for the key to be handled");
  w.settle();
  assert.equal(w.dialog.top, "dashboard");
});

test("Ctrl+C on a sub-dialog closes it like Esc: back to the dashboard", () => {
  const w = world();
  w.open("rename");
  w.dialog.escape(); // opencode binds ctrl+c in a dialog to the same close
  w.settle();
  assert.equal(w.dialog.top, "dashboard");
});

test("a confirm returns to the dashboard once, whether or not the dialog clears itself after it", () => {
  for (const clears of [false, true]) {
    const w = world();
    const d = w.open("remove");
    d.done();
    if (clears) w.dialog.clear();
    w.settle();
    assert.equal(w.dialog.top, "dashboard", `clears: ${clears}`);
    assert.equal(w.reopened(), 1, `clears: ${clears}`);
  }
});

test("a cancel returns to the dashboard once; a second close of the same sub-dialog does nothing", () => {
  const w = world();
  const d = w.open("remove");
  d.done();
  w.settle();
  d.done();
  w.dialog.escape(); // now closes the dashboard itself
  w.settle();
  assert.equal(w.dialog.open, false);
  assert.equal(w.reopened(), 1);
});

test("leaving a sub-dialog for another of opencode's dialogs does not bring the dashboard back over it", () => {
  const w = world();
  const d = w.open("model");
  d.leave();
  w.dialog.replace("opencode-connect");
  w.settle();
  assert.equal(w.dialog.top, "opencode-connect");
  assert.equal(w.reopened(), 0);
});

const acc = (providerID, alias) => ({ providerID, alias });

test("the account cursor follows the account when the list changes, not the row", () => {
  const before = V.accountOrder([acc("mock", "alpha"), acc("mock", "bravo"), acc("mock", "charlie")]);
  let sel = V.moveSelOf("accounts", before, {}, 1); // on bravo
  assert.equal(before[V.selIndex("accounts", before, sel)].alias, "bravo");
  // An account added above it (by the CLI, another opencode): still bravo.
  const added = V.accountOrder([...before, acc("mock", "aaa"), acc("backup", "b1")]);
  assert.equal(added[V.selIndex("accounts", added, sel)].alias, "bravo");
  assert.equal(added[V.selIndex("accounts", added, sel)].providerID, "mock");
  // Moving from there moves from bravo.
  sel = V.moveSelOf("accounts", added, sel, 1);
  assert.equal(added[V.selIndex("accounts", added, sel)].alias, "charlie");
  // The same alias at another provider is another account.
  const other = V.accountOrder([acc("a-first", "charlie"), acc("mock", "charlie")]);
  assert.equal(other[V.selIndex("accounts", other, sel)].providerID, "mock");
});

test("when the selected account goes away the cursor stays on its row (its neighbour), clamped", () => {
  const list = V.accountOrder([acc("mock", "alpha"), acc("mock", "bravo"), acc("mock", "charlie")]);
  let sel = V.moveSelOf("accounts", list, {}, 2); // charlie, row 2
  const removed = list.filter((a) => a.alias !== "charlie");
  sel = V.moveSelOf("accounts", removed, sel, 0); // a refresh re-anchors
  assert.equal(removed[V.selIndex("accounts", removed, sel)].alias, "bravo");
  assert.equal(V.selIndex("accounts", [], sel), 0);
});

test("a renamed account keeps the cursor wherever its new name sorts it", () => {
  const list = V.accountOrder([acc("mock", "alpha"), acc("mock", "bravo"), acc("mock", "zulu")]);
  const sel = V.selectItem("accounts", acc("mock", "zzz-renamed-alpha"));
  const after = V.accountOrder([acc("mock", "zzz-renamed-alpha"), list[1], list[2]]);
  assert.equal(after[V.selIndex("accounts", after, sel)].alias, "zzz-renamed-alpha");
});

test("the priority cursor follows the provider it moved; the pending cursor follows the login", () => {
  const p = [{ providerID: "mock" }, { providerID: "backup" }];
  const sel = V.moveSelOf("priority", p, {}, 1); // backup
  const moved = [p[1], p[0]]; // Shift+Up moved backup first
  assert.equal(moved[V.selIndex("priority", moved, sel)].providerID, "backup");
  const pending = [{ id: "p1" }, { id: "p2" }];
  const ps = V.moveSelOf("pending", pending, {}, 1);
  assert.equal(V.selIndex("pending", [{ id: "p0" }, ...pending], ps), 2);
});

test("the dashboard comes back after opencode has given the prompt its focus back, so it takes the focus", async () => {
  // opencode 1.18.33: closing the last dialog refocuses the prompt 1 ms later; replace() on an
  // empty stack blurs what is focused. Reopened before that refocus, the prompt would get the keys.
  const dialog = fakeDialog();
  dialog.replace("dashboard");
  V.subDialog(dialog, "remove", () => dialog.replace("dashboard"));
  dialog.escape();
  await new Promise((r) => setTimeout(r, V.REOPEN_MS + 200));
  assert.equal(dialog.top, "dashboard");
  assert.equal(dialog.renderer.currentFocusedRenderable, null, "the prompt does not keep the focus");
});
