// tui/v2 against the real sidecar binary (`serve --no-background`, its own store), with the fake
// of opencode 2's TUI plugin API: the dashboard lists what the store holds and a key reaches the
// sidecar over the wire. OPENCODE_BALANCER_BIN, else target/release/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { register } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

register(new URL("./fakes/loader.mjs", import.meta.url));
const { text } = await import("./fakes/opentui-solid.mjs");
const { until } = await import("./fakes/until.mjs");
const { fakeV2Api } = await import("./fakes/opencode2.mjs");
const { setupV2Tui } = await import("../v2/index.js");

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BIN = process.env.OPENCODE_BALANCER_BIN ?? join(ROOT, "target", "release", "opencode-balancer");


test("with the real sidecar the V2 dashboard lists the store's two accounts and Enter activates on the sidecar", async (t) => {
  assert.ok(existsSync(BIN), `no binary at ${BIN}: cargo build --release first`);
  const dir = mkdtempSync(join(tmpdir(), "ocb-tui-v2-"));
  const store = join(dir, "store.db");
  const env = { ...process.env, XDG_DATA_HOME: dir };
  for (const [alias, key] of [["alpha", "sk-alpha-FAKE"], ["bravo", "sk-bravo-FAKE"]])
    execFileSync(BIN, ["--store", store, "accounts", "add", "mock", alias, "--force"], { input: key, env });
  execFileSync(BIN, ["--store", store, "accounts", "use", "mock", "alpha"], { env });
  const w = fakeV2Api({ options: { store } });
  const cleanup = setupV2Tui(w.api, { binary: { path: BIN, source: "the test" } });
  t.after(async () => {
    cleanup?.();
    await new Promise((r) => setTimeout(r, 300)); // the sidecar ends on EOF, a moment later
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  });
  w.press("ctrl+b");
  await until("both accounts", () => /● alpha[\s\S]*○ bravo/.test(text(w.dialog.top())));
  w.dialog.top();
  await w.press("down");
  w.dialog.top();
  await w.press("return");
  const told = await until("the toast", () => w.toasts.find((x) => /is active/.test(x.message)));
  assert.match(told.message, /^mock\/bravo is active/);
  await until("bravo active in the store", () => /○ alpha[\s\S]*● bravo/.test(text(w.dialog.top())));
  assert.deepEqual(w.credentialCalls, [], "an account the balancer owns is not V2's to activate");
});

test("the TUI entry's setup under V2 registers the dashboard command once and its sidecar answers", async (t) => {
  assert.ok(existsSync(BIN), `no binary at ${BIN}: cargo build --release first`);
  const plugin = (await import("../index.js")).default;
  const dir = mkdtempSync(join(tmpdir(), "ocb-tui-v2-entry-"));
  const w = fakeV2Api({ options: { binary: BIN, store: join(dir, "store.db") } });
  const cleanup = await plugin.setup(w.api);
  t.after(async () => {
    cleanup?.();
    await new Promise((r) => setTimeout(r, 300)); // the sidecar ends on EOF, a moment later
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  });
  assert.equal(typeof cleanup, "function");
  assert.equal(await plugin.setup(w.api), undefined, "a second load registers nothing");
  assert.deepEqual(
    w.layers.map((l) => l.spec.commands.map((c) => c.id)),
    [["balancer.open"]],
  );
  w.press("ctrl+b");
  await until("the empty store's line", () => text(w.dialog.top()).includes("No accounts yet"));
});
