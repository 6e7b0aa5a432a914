// The TUI plugin's entry (tui/index.js): `export default { id, tui, setup }`; `setup`, opencode 2's,
// is a no-op on anything without `api.keymap.layer`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { register } from "node:module";

register(new URL("./fakes/loader.mjs", import.meta.url));
const plugin = (await import("../index.js")).default;

test("the TUI entry is {id, tui, setup}", () => {
  assert.deepEqual(Object.keys(plugin).sort(), ["id", "setup", "tui"]);
  assert.equal(typeof plugin.tui, "function");
});

test("setup does nothing, and throws nothing, without opencode 2's api.keymap.layer", async () => {
  for (const api of [undefined, null, {}, { keymap: {} }, { keymap: { layer: 1 } }, { ui: {} }]) {
    assert.equal(await plugin.setup(api), undefined);
  }
  assert.equal(globalThis[Symbol.for("opencode-balancer.tui.v2")], undefined);
});
