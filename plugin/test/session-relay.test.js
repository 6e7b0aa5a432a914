// The server plugin answers the TUI plugin's "which account is session S on" (tui/index.js) on a
// BroadcastChannel, from its own sidecar's `session.get`: the session bindings live there.
import { test } from "node:test";
import assert from "node:assert/strict";
import { server } from "../index.js";
import { FAST, fakeClient, fakeSidecar, removeDir, tempDir } from "./helpers.mjs";

const CHANNEL = "opencode-balancer.session";
const BINDING = { providerID: "mock", modelID: "m1", alias: "bravo" };

async function start(t) {
  const dir = tempDir();
  const fake = fakeSidecar(dir, { id: "relay", results: { "session.get": BINDING } });
  const { client } = fakeClient();
  const hooks = await server({ client, directory: dir, worktree: dir, project: { id: "p" } }, { ...FAST, binary: fake.binary });
  const tui = new BroadcastChannel(CHANNEL);
  const answers = [];
  tui.onmessage = (e) => answers.push(e.data);
  t.after(async () => {
    tui.close();
    await hooks.dispose?.();
    delete process.env.FAKE_SIDECAR_CONFIG;
    removeDir(dir);
  });
  return { hooks, tui, answers };
}

async function until(f, ms = 5000) {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

test("the server plugin tells the TUI plugin which provider and account a session is on", async (t) => {
  const { tui, answers } = await start(t);
  tui.postMessage({ type: "session.get", sessionID: "ses_1" });
  assert.ok(await until(() => answers.length > 0), "an answer arrives");
  assert.deepEqual(answers[0], { type: "session", sessionID: "ses_1", result: BINDING });
});

test("a malformed question gets no answer", async (t) => {
  const { tui, answers } = await start(t);
  tui.postMessage({ type: "session.get", sessionID: 7 });
  tui.postMessage({ type: "other", sessionID: "ses_1" });
  tui.postMessage("session.get");
  tui.postMessage({ type: "session.get", sessionID: "ses_2" }); // answered: the queue moved on
  assert.ok(await until(() => answers.length > 0));
  assert.deepEqual(answers.map((a) => a.sessionID), ["ses_2"]);
});

test("after dispose the server plugin no longer answers", async (t) => {
  const { hooks, tui, answers } = await start(t);
  await hooks.dispose();
  tui.postMessage({ type: "session.get", sessionID: "ses_1" });
  assert.equal(await until(() => answers.length > 0, 500), false);
});
