// The plugin's entry (plugin/index.js): `export default { id, server, setup }` plus the named
// `server` only (opencode 1 calls every exported function as a plugin), and `setup`, opencode 2's,
// a no-op on anything without `ctx.session.hook`.
import { test } from "node:test";
import assert from "node:assert/strict";

import * as entry from "../index.js";

test("the entry exports default {id, server, setup} and the named server, nothing else", () => {
  assert.deepEqual(Object.keys(entry).sort(), ["default", "server"]);
  assert.deepEqual(Object.keys(entry.default).sort(), ["id", "server", "setup"]);
  assert.equal(entry.default.server, entry.server);
  assert.equal(entry.default.id, "opencode-balancer");
});

test("setup does nothing, and throws nothing, without opencode 2's ctx.session.hook", async () => {
  for (const ctx of [undefined, null, {}, { session: {} }, { session: { hook: "no" } }, { client: {} }]) {
    assert.equal(await entry.default.setup(ctx), undefined);
  }
  assert.equal(globalThis[Symbol.for("opencode-balancer.plugin.v2")], undefined, "not marked as set up");
});

test("setup runs once per process with opencode 2's ctx, however often it is loaded", async () => {
  const ctx = { session: { hook: () => {} } };
  await entry.default.setup(ctx);
  await entry.default.setup(ctx);
  assert.equal(globalThis[Symbol.for("opencode-balancer.plugin.v2")], true);
  delete globalThis[Symbol.for("opencode-balancer.plugin.v2")];
});
