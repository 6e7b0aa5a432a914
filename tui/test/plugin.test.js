// tui/index.js in node with fakes shaped like opencode 1.18.33's TUI plugin API (its dialog
// stack, keymap, slots) and of solid/opentui (tui/test/fakes), against the real sidecar binary.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { register } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

register(new URL("./fakes/loader.mjs", import.meta.url));
const { keyboard, text } = await import("./fakes/opentui-solid.mjs");
const { fakeDialog, fakeRenderer } = await import("./fakes/opencode.mjs");
const plugin = (await import("../index.js")).default;

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BIN = process.env.OPENCODE_BALANCER_BIN ?? join(ROOT, "target", "release", "opencode-balancer");

async function until(what, f, ms = 10_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function start(t) {
  assert.ok(existsSync(BIN), `no binary at ${BIN}: cargo build --release first`);
  const dir = mkdtempSync(join(tmpdir(), "ocb-tui-plugin-"));
  const store = join(dir, "store.db");
  const env = { ...process.env, XDG_DATA_HOME: dir };
  for (const [alias, key] of [["alpha", "sk-alpha-FAKE"], ["bravo", "sk-bravo-FAKE"]])
    execFileSync(BIN, ["--store", store, "accounts", "add", "mock", alias, "--force"], { input: key, env }); // mock: a custom provider
  execFileSync(BIN, ["--store", store, "accounts", "use", "mock", "alpha"], { env });
  const renderer = fakeRenderer();
  const dialog = fakeDialog(renderer);
  const layers = [];
  const slots = [];
  const disposers = [];
  const toasts = [];
  const component = (name) => (props) => ({ dialog: name, props });
  const api = {
    theme: { current: {} },
    ui: {
      dialog,
      toast: (t) => toasts.push(t),
      DialogPrompt: component("prompt"),
      DialogConfirm: component("confirm"),
      DialogSelect: component("select"),
    },
    keymap: { registerLayer: (l) => layers.push(l), dispatchCommand() {} },
    slots: { register: (s) => slots.push(s) },
    lifecycle: { onDispose: (f) => disposers.push(f) },
    state: { provider: [], session: { messages: () => [] } },
    route: { current: { name: "session", params: { sessionID: "ses_1" } } },
    renderer,
  };
  await plugin.tui(api, { binary: BIN, store });
  t.after(async () => {
    for (const f of disposers) f();
    // The sidecar ends on EOF, a moment later: its store files go after it (best effort).
    await new Promise((r) => setTimeout(r, 300));
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    } catch {
      // left in the temporary folder
    }
  });
  const top = () => dialog.top?.();
  const key = (name) => keyboard.handler({ name, preventDefault() {} });
  const settle = () => new Promise((r) => setTimeout(r, 150)); // past the dashboard's reopen
  return { api, dialog, renderer, layers, slots, toasts, top, key, settle };
}

/** Opens the dashboard and waits until its accounts are listed (a key then acts on alpha). */
async function openDashboard(w) {
  w.layers[0].commands[0].run();
  await until("the accounts", async () => {
    w.top(); // renders the dashboard: its key handler is the current one
    w.key("r");
    await w.settle();
    const sub = w.top();
    if (sub?.dialog === "prompt") {
      w.dialog.escape();
      await w.settle();
      return true;
    }
    return false;
  });
}

test("/balancer is the TUI plugin's slash name for the dashboard (one Enter runs a TUI slash command)", async (t) => {
  const w = await start(t);
  const commands = w.layers.flatMap((l) => l.commands ?? []);
  assert.ok(commands.some((c) => c.name === "balancer.open"), "the palette entry stays");
  const slash = commands.filter((c) => c.slashName !== undefined);
  assert.deepEqual(slash.map((c) => [c.slashName, c.name]), [["balancer", "balancer.open"]]);
  assert.deepEqual(w.layers.flatMap((l) => l.bindings ?? []).map((b) => b.key), ["ctrl+b"]);
});

test("R then Esc, and D then Esc, return to the dashboard, which keeps the next key", async (t) => {
  const w = await start(t);
  await openDashboard(w);
  for (const [k, dialog, title] of [["r", "prompt", "Rename mock/alpha"], ["d", "confirm", "Remove account"]]) {
    w.top();
    w.key(k);
    const sub = w.top();
    assert.equal(sub.dialog, dialog);
    assert.equal(sub.props.title, title);
    w.dialog.escape();
    await w.settle();
    assert.equal(w.dialog.stack.length, 1, `${k} then Esc: one dialog open, the dashboard`);
    assert.equal(w.renderer.currentFocusedRenderable, null, `${k} then Esc: the prompt does not have the focus`);
    assert.match(text(w.top()), /Balancer {2}\[accounts\]/);
  }
  // The next key goes to the dashboard (a dialog is open: opencode's prompt does not get it).
  w.key("down");
  w.key("r");
  assert.equal(w.top().props.title, "Rename mock/bravo", "and the dashboard acted on it");
});

test("a cancelled removal returns to the dashboard and removes nothing; a confirmed one returns too", async (t) => {
  const w = await start(t);
  await openDashboard(w);
  w.top();
  w.key("d");
  w.top().props.onCancel();
  w.dialog.clear(); // as opencode's DialogConfirm does after either button
  await w.settle();
  assert.match(text(w.top()), /Balancer {2}\[accounts\]/);
  w.key("d");
  w.top().props.onConfirm();
  w.dialog.clear();
  await w.settle();
  assert.match(text(w.top()), /Balancer {2}\[accounts\]/);
  await until("the removal", () => w.toasts.some((x) => x.message === "removed"));
  assert.equal(w.dialog.stack.length, 1);
});

test("U on an account with no usage endpoint says so, not \"usage read\"", async (t) => {
  const w = await start(t);
  await openDashboard(w);
  w.top();
  w.key("u");
  const shown = await until("the usage toast", () => w.toasts.find((x) => x.message !== "reading usage…"));
  assert.equal(shown.message, "no usage endpoint for mock/alpha");
  assert.equal(shown.variant, "info");
});

test("a failed rename's toast names the thing and what to do, not the sidecar method", async (t) => {
  const w = await start(t);
  await openDashboard(w);
  w.top();
  w.key("r");
  w.top().props.onConfirm("bravo");
  const shown = await until("the failure toast", () => w.toasts.find((x) => x.variant === "error"));
  assert.match(shown.message, /^Renaming the account failed: .*bravo.*already exists\. Choose another name\.$/);
  assert.doesNotMatch(shown.message, /accounts\.rename/);
});

test("the sidebar names the account the server plugin says the session is on", async (t) => {
  const w = await start(t);
  const relay = new BroadcastChannel("opencode-balancer.session");
  const asked = [];
  relay.onmessage = (e) => {
    asked.push(e.data);
    relay.postMessage({ type: "session", sessionID: e.data.sessionID, result: { providerID: "mock", modelID: "m1", alias: "bravo" } });
  };
  t.after(() => relay.close());
  const sidebar = () => text(w.slots[0].slots.sidebar_content({}, { session_id: "ses_1" }));
  await until("the accounts and the session's binding", () => sidebar().startsWith("Balancer mock/bravo"));
  assert.deepEqual(asked[0], { type: "session.get", sessionID: "ses_1" });
  // Activating alpha over this session: the toast says the session stays on bravo.
  await openDashboard(w);
  w.top();
  w.key("return");
  await until("the toast", () => w.toasts.find((x) => /is active/.test(x.message)));
  assert.equal(
    w.toasts.find((x) => /is active/.test(x.message)).message,
    "mock/alpha is active: new sessions start on it; this session stays on mock/bravo while that account is healthy.",
  );
});
