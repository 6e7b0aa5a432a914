// tui/v2 (the TUI plugin under opencode 2) in node, with a fake of V2's TUI plugin API
// (tui/test/fakes/opencode2.mjs: keymap layers, the dialog stack and its promise dialogs, slots,
// the credential client) and of solid/opentui (tui/test/fakes), against a fake sidecar.
import { test } from "node:test";
import assert from "node:assert/strict";
import { register } from "node:module";

register(new URL("./fakes/loader.mjs", import.meta.url));
const { text } = await import("./fakes/opentui-solid.mjs");
const { until } = await import("./fakes/until.mjs");
const { fakeV2Api, fakeSidecar } = await import("./fakes/opencode2.mjs");
const { setupV2Tui, OPEN } = await import("../v2/index.js");

const HOUR = 3_600_000;
const v2acc = (alias, credentialID, extra = {}) => ({ providerID: "mock", alias, owner: "opencode2", credentialID, active: false, disabled: false, ...extra });


/** V2 with the plugin set up over `world` (the fake sidecar's), torn down after the test. */
function start(t, world = {}, fake = {}) {
  const sidecar = fakeSidecar({
    accounts: [v2acc("alpha", "cred_a", { active: true }), v2acc("bravo", "cred_b")],
    priority: [{ providerID: "mock", enabled: true, modelID: null }],
    ...world,
  });
  const v2 = fakeV2Api(fake);
  const cleanup = setupV2Tui(v2.api, { createClient: sidecar.createClient });
  t.after(() => cleanup?.());
  const top = () => text(v2.dialog.top());
  return { ...v2, sidecar, cleanup, top };
}

/** Runs the dashboard's command (as Ctrl+B, the palette or /balancer do) and waits for its accounts. */
async function open(w, shows = "bravo") {
  w.layers[0].spec.commands[0].run();
  await until("the accounts", () => w.top().includes(shows));
}

/** Presses a key on the dashboard (its layer is the one the last render made) and lets it act. */
async function key(w, bind) {
  w.dialog.top();
  await w.press(bind);
  await new Promise((r) => setTimeout(r, 0));
}

test("under V2 one global command opens the dashboard: Ctrl+B, the palette's entry and /balancer", (t) => {
  const w = start(t);
  assert.equal(w.layers.length, 1, "one layer");
  const { spec } = w.layers[0];
  assert.equal(spec.mode, "global", "without mode global V2 leaves it out of the palette");
  assert.equal(spec.commands.length, 1);
  const [c] = spec.commands;
  assert.equal(c.id, OPEN);
  assert.equal(c.title, "Open Balancer Dashboard");
  assert.equal(c.bind, "ctrl+b");
  assert.equal(c.palette, true);
  assert.deepEqual(c.slash, { name: "balancer" });
  w.press("ctrl+b");
  assert.equal(w.dialog.stack.length, 1, "Ctrl+B opened the dashboard dialog");
  assert.deepEqual(w.dialog.sizes, ["xlarge"]);
});

test("the keybind option rebinds the command", (t) => {
  const w = start(t, {}, { options: { keybind: "ctrl+alt+b" } });
  assert.equal(w.layers[0].spec.commands[0].bind, "ctrl+alt+b");
});

test("under a V1-shaped api setup registers nothing and starts no sidecar", () => {
  const sidecar = fakeSidecar();
  const touched = [];
  const record = (name) => (...a) => touched.push([name, a]);
  const v1 = {
    keymap: { registerLayer: record("registerLayer"), dispatchCommand: record("dispatchCommand") },
    slots: { register: record("slots.register") },
    ui: { dialog: { replace: record("replace") }, toast: record("toast") },
    lifecycle: { onDispose: record("onDispose") },
  };
  for (const api of [v1, undefined, null, {}, { keymap: {} }, { keymap: { layer: "no" } }]) {
    assert.equal(setupV2Tui(api, { createClient: sidecar.createClient }), undefined);
  }
  assert.deepEqual(touched, []);
  assert.equal(sidecar.client.started, 0);
});

test("loaded twice in one process (the plugin folder and `plugins`) it registers once; again after V2 unloads it", (t) => {
  const first = start(t);
  const second = fakeV2Api();
  const sidecar = fakeSidecar();
  assert.equal(setupV2Tui(second.api, { createClient: sidecar.createClient }), undefined);
  assert.equal(second.layers.length, 0);
  assert.equal(second.slots.length, 0);
  assert.equal(sidecar.client.started, 0);
  first.cleanup();
  assert.equal(first.sidecar.client.stopped, 1, "the cleanup stops the sidecar");
  const again = setupV2Tui(second.api, { createClient: sidecar.createClient });
  t.after(() => again?.());
  assert.equal(typeof again, "function");
  assert.equal(second.layers.length, 1);
});

test("the dashboard lists both of V2's credentials of a provider, the active one marked", async (t) => {
  const w = start(t);
  await open(w);
  const shown = w.top();
  assert.match(shown, /Balancer {2}\[accounts\]/);
  assert.match(shown, /^mock$/m);
  assert.match(shown, /› ● alpha +active/);
  assert.match(shown, /  ○ bravo +healthy/);
});

test("Enter on a V2 credential activates it through V2's credential API, not the sidecar", async (t) => {
  const w = start(t);
  await open(w);
  await key(w, "down");
  await key(w, "return");
  await until("V2's activate", () => w.credentialCalls.length === 1);
  assert.deepEqual(w.credentialCalls, [["activate", { credentialID: "cred_b" }]]);
  assert.ok(!w.sidecar.calls.some(([m]) => m === "accounts.activate"), "the sidecar is not asked to activate it");
  const told = await until("the toast", () => w.toasts.find((x) => /is active/.test(x.message)));
  assert.match(told.message, /^mock\/bravo is active: new sessions start on it/);
});

test("a failed V2 activation says what failed", async (t) => {
  const w = start(t);
  w.api.client.credential.activate = async () => {
    throw new Error("Credential not found");
  };
  await open(w);
  await key(w, "return");
  const told = await until("the error toast", () => w.toasts.find((x) => x.variant === "error"));
  assert.equal(told.message, "Activating the account failed: Credential not found.");
});

test("Enter on an account the balancer owns activates it on the sidecar", async (t) => {
  const w = start(t, { accounts: [{ providerID: "mock", alias: "alpha", active: false, disabled: false }] }, {});
  await open(w, "alpha");
  await key(w, "return");
  await until("the sidecar's activate", () => w.sidecar.calls.some(([m]) => m === "accounts.activate"));
  assert.deepEqual(w.sidecar.calls.find(([m]) => m === "accounts.activate")[1], { providerID: "mock", alias: "alpha" });
  assert.deepEqual(w.credentialCalls, []);
});

test("E, X and U act on the balancer's own state of a V2 credential, on the sidecar", async (t) => {
  const w = start(t);
  await open(w);
  await key(w, "e");
  await key(w, "x");
  await key(w, "u");
  const asked = (m) => w.sidecar.calls.find(([x]) => x === m)?.[1];
  await until("the calls", () => asked("usage.refresh"));
  assert.deepEqual(asked("accounts.setDisabled"), { providerID: "mock", alias: "alpha", disabled: true });
  assert.deepEqual(asked("accounts.resetCooldown"), { providerID: "mock", alias: "alpha" });
  assert.deepEqual(asked("usage.refresh"), { providerID: "mock", alias: "alpha" });
  assert.deepEqual(w.credentialCalls, []);
});

test("R renames a V2 credential's label through V2 and brings the dashboard back; Esc on the prompt changes nothing", async (t) => {
  const w = start(t);
  await open(w);
  await key(w, "r");
  let sub = w.dialog.top();
  assert.equal(sub.dialog, "prompt");
  assert.equal(sub.options.title, "Rename mock/alpha");
  w.dialog.escape();
  await until("the dashboard back", () => w.top().includes("[accounts]"));
  assert.deepEqual(w.credentialCalls, []);
  await key(w, "r");
  sub = w.dialog.top();
  sub.answer("charlie");
  await until("V2's update", () => w.credentialCalls.length === 1);
  assert.deepEqual(w.credentialCalls, [["update", { credentialID: "cred_a", label: "charlie" }]]);
  assert.ok(!w.sidecar.calls.some(([m]) => m === "accounts.rename"));
  await until("the dashboard back", () => w.top().includes("[accounts]"));
  assert.equal(w.dialog.stack.length, 1);
});

test("D removes a V2 credential through V2 only when confirmed, saying opencode forgets it", async (t) => {
  const w = start(t);
  await open(w);
  await key(w, "d");
  let sub = w.dialog.top();
  assert.equal(sub.dialog, "confirm");
  assert.match(sub.options.message, /^Remove mock\/alpha\? It is one of opencode's own credentials/);
  sub.answer(false);
  await until("the dashboard back", () => w.top().includes("[accounts]"));
  assert.deepEqual(w.credentialCalls, []);
  await key(w, "d");
  sub = w.dialog.top();
  sub.answer(true);
  await until("V2's remove", () => w.credentialCalls.length === 1);
  assert.deepEqual(w.credentialCalls, [["remove", { credentialID: "cred_a" }]]);
  assert.ok(!w.sidecar.calls.some(([m]) => m === "accounts.remove"));
  await until("the dashboard back", () => w.top().includes("[accounts]"));
});

test("the priority screen: Shift+Down moves a provider, Space toggles it, Enter picks a model from what V2 knows", async (t) => {
  const models = [
    { providerID: "mock", id: "m1", name: "M1" },
    { providerID: "mock", id: "old", name: "Old", status: "deprecated" },
    { providerID: "other", id: "o1", name: "O1" },
  ];
  const w = start(t, { priority: [{ providerID: "mock", enabled: true, modelID: null }, { providerID: "backup", enabled: true, modelID: "b1" }] }, { models });
  await open(w);
  await key(w, "tab");
  assert.match(w.top(), /\[priority\]/);
  assert.match(w.top(), /› {2}1\. \[x\] mock/);
  await key(w, "shift+down");
  await key(w, "space");
  const asked = (m) => w.sidecar.calls.find(([x]) => x === m)?.[1];
  await until("the calls", () => asked("priority.setEnabled"));
  assert.deepEqual(asked("priority.move"), { providerID: "mock", direction: 1 });
  assert.deepEqual(asked("priority.setEnabled"), { providerID: "mock", enabled: false });
  await key(w, "return");
  const sub = w.dialog.top();
  assert.equal(sub.dialog, "select");
  assert.deepEqual(sub.options.options.map((o) => o.value), ["m1"], "the provider's models, none deprecated");
  sub.answer("m1");
  await until("the model set", () => asked("priority.setModel"));
  assert.deepEqual(asked("priority.setModel"), { providerID: "mock", modelID: "m1" });
  await until("the dashboard back on the priority screen", () => w.top().includes("[priority]"));
});

test("the pending screen: Enter saves a login under the alias typed, D dismisses it", async (t) => {
  const w = start(t, { pending: [{ id: "p1", providerID: "mock", authType: "api", capturedAt: Date.now() }] });
  await open(w);
  await key(w, "n");
  assert.match(w.top(), /\[pending\][\s\S]*› mock/);
  await key(w, "return");
  w.dialog.top().answer("charlie");
  const asked = (m) => w.sidecar.calls.find(([x]) => x === m)?.[1];
  await until("the save", () => asked("pending.save"));
  assert.deepEqual(asked("pending.save"), { id: "p1", alias: "charlie" });
  await until("the dashboard back", () => w.top().includes("[pending]"));
  await key(w, "d");
  await until("the dismissal", () => asked("pending.dismiss"));
  assert.deepEqual(asked("pending.dismiss"), { id: "p1" });
});

test("C closes the dashboard and starts V2's own connect", async (t) => {
  const w = start(t);
  await open(w);
  await key(w, "c");
  assert.equal(w.dialog.stack.length, 0);
  assert.deepEqual(w.dispatched, ["provider.connect"]);
});

test("a store.changed from the sidecar shows a credential V2 added, without reopening", async (t) => {
  const w = start(t);
  await open(w);
  w.sidecar.world.accounts.push(v2acc("charlie", "cred_c"));
  w.sidecar.client.notify("store.changed", {});
  await until("charlie", () => w.top().includes("charlie"));
});

test("the sidebar line names the session's provider's active account, its quota left and a cooldown", async (t) => {
  const now = Date.now();
  const w = start(
    t,
    {
      accounts: [
        v2acc("alpha", "cred_a", { active: true, usage: { windows: [{ name: "5h", usedPercent: 30 }] } }),
        { providerID: "backup", alias: "b1", active: true, disabled: false, coolingDownUntil: now + HOUR, cooldownReason: "rate_limit" },
      ],
    },
    { messages: { ses_1: [{ role: "assistant", model: { providerID: "backup", id: "x" } }] }, currentModel: { providerID: "mock", modelID: "m1" } },
  );
  assert.equal(w.slots.length, 1);
  assert.equal(w.slots[0].append, "sidebar.content");
  const line = (sessionID) => text(w.slots[0].render({ sessionID }));
  await until("the accounts", () => line("ses_2") !== "");
  assert.equal(line("ses_2"), "Balancer mock/alpha · 70% left", "no messages: the model the TUI has selected");
  assert.match(line("ses_1"), /^Balancer backup\/b1 · cooling down (1h 00m|59m \d\ds) \(rate limited\)$/, "the provider its messages name");
});

test("every account of a provider resting is said once in a toast, until one is back", async (t) => {
  const resting = { coolingDownUntil: Date.now() + HOUR, cooldownReason: "rate_limit" };
  const w = start(t, { accounts: [v2acc("alpha", "cred_a", resting), v2acc("bravo", "cred_b", resting)] });
  await until("the toast", () => w.toasts.length > 0);
  const reads = () => w.sidecar.calls.filter(([m]) => m === "events.list").length;
  const before = reads();
  w.sidecar.client.notify("store.changed", {});
  await until("a second refresh", () => reads() > before);
  await new Promise((r) => setImmediate(r)); // its answers handled
  assert.equal(w.toasts.filter((x) => /Every account of mock/.test(x.message)).length, 1);
  // One back: said again when all rest again.
  w.sidecar.world.accounts[0].coolingDownUntil = null;
  w.sidecar.client.notify("store.changed", {});
  await until("a third refresh", () => reads() > before + 1);
  w.sidecar.world.accounts[0].coolingDownUntil = Date.now() + HOUR;
  w.sidecar.client.notify("store.changed", {});
  await until("the toast again", () => w.toasts.filter((x) => /Every account of mock/.test(x.message)).length === 2);
});

test("the dashboard's keys live in a modal layer that goes when the dashboard closes", async (t) => {
  const w = start(t);
  await open(w);
  w.dialog.top();
  const layer = w.active().find((l) => l.spec.mode === "modal");
  assert.ok(layer, "a modal layer while the dashboard is open");
  const binds = layer.spec.commands.map((c) => c.bind);
  for (const b of ["return", "tab", "up", "down", "shift+up", "r", "d", "e", "x", "u", "c", "space", "b", "f", "l", "n"]) assert.ok(binds.includes(b), b);
  assert.ok(!binds.includes("escape"), "Esc stays V2's: it closes the dialog");
  w.press("escape");
  assert.equal(w.dialog.stack.length, 0);
  assert.equal(w.active().filter((l) => l.spec.mode === "modal").length, 0);
});

test("the dashboard draws in V2's theme: the title in the primary action colour, the cursor row focused, a cooling account in warning", async (t) => {
  const w = start(t, { accounts: [v2acc("alpha", "cred_a", { active: true }), v2acc("bravo", "cred_b", { coolingDownUntil: Date.now() + HOUR, cooldownReason: "quota" })] });
  await open(w);
  const rows = w.dialog.top().children.filter((c) => c?.tag === "text");
  const fg = (re) => rows.find((r) => re.test(text(r)))?.props.fg;
  const { theme } = w.api;
  assert.equal(fg(/Balancer {2}\[accounts\]/), theme.text.action.primary.base);
  assert.equal(fg(/› ● alpha/), theme.text.action.primary.focused);
  assert.equal(fg(/○ bravo +cooling down/), theme.text.feedback.warning.base);
  assert.equal(fg(/^↑↓ select/), theme.text.muted);
});

test("a sidecar that cannot start: the dashboard says why, and opencode keeps working", async (t) => {
  const v2 = fakeV2Api();
  let opts = null;
  const client = { start: () => opts.onState({ state: "down", reason: "no binary found" }), stop() {}, call: async () => Promise.reject(new Error("the sidecar is not running")) };
  const cleanup = setupV2Tui(v2.api, { createClient: (o) => ((opts = o), client) });
  t.after(() => cleanup?.());
  v2.press("ctrl+b");
  const shown = await until("the reason", () => /sidecar unavailable/.test(text(v2.dialog.top())) && text(v2.dialog.top()));
  assert.match(shown, /sidecar unavailable: no binary found/);
  assert.match(shown, /The balancer's sidecar is not running/);
});

test("after Enter the dashboard shows the credential V2 made active, before the store's mirror of it catches up", async (t) => {
  const credentials = [
    { id: "cred_a", integrationID: "mock", label: "alpha", active: true },
    { id: "cred_b", integrationID: "mock", label: "bravo", active: false },
  ];
  const w = start(t, {}, { credentials });
  await open(w);
  await key(w, "down");
  await key(w, "return");
  // The fake sidecar's store still says alpha (no watcher has mirrored opencode.db yet).
  assert.equal(w.sidecar.world.accounts.find((a) => a.active).alias, "alpha");
  await until("bravo shown active", () => /○ alpha[\s\S]*● bravo +active/.test(w.top()));
  const line = text(w.slots[0].render({ sessionID: "ses_1" }));
  assert.equal(line, "Balancer mock/bravo", "the sidebar too");
  assert.ok(!w.top().includes("sk-FAKE"), "nothing of V2's answer but ids and flags is shown");
});
