// common/sidecar.js, the one sidecar client both plugins use, against the plugin tests' fake
// sidecar (plugin/test/fake-sidecar.mjs): calls and their three errors, notifications and their
// unsubscribe, arguments around `serve`, restart after a crash, close.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { Sidecar, SidecarError, SidecarTimeout, SidecarUnavailable } from "../sidecar.js";
import { FAKE_SIDECAR, fakeLog, removeDir, tempDir, waitFor } from "../../plugin/test/helpers.mjs";

/** A client of the fake configured with `config`, its environment passed with the `env` option. */
function fake(t, config = {}, options = {}) {
  const dir = tempDir("ocb-common-test-");
  const log = join(dir, "fake.log");
  const file = join(dir, "fake-config.json");
  writeFileSync(file, JSON.stringify({ log, ...config }));
  chmodSync(FAKE_SIDECAR, 0o755);
  const s = new Sidecar({
    binary: { path: FAKE_SIDECAR, source: "test" },
    env: { ...process.env, FAKE_SIDECAR_CONFIG: file },
    restartDelayMs: 20,
    maxRestartDelayMs: 40,
    ...options,
  });
  t.after(async () => {
    await s.close();
    removeDir(dir);
  });
  return { s, log };
}

test("a call resolves with the result; a JSON-RPC error is a SidecarError with its code", async (t) => {
  const { s } = fake(t, { results: { status: { ok: 1 } } });
  s.start();
  assert.deepEqual(await s.call("status", {}, { timeoutMs: 5000 }), { ok: 1 });
  const err = await s.call("no.such.method", {}, { timeoutMs: 5000 }).catch((e) => e);
  assert.ok(err instanceof SidecarError, String(err));
  assert.equal(err.code, -32601);
});

test("an unanswered call is a SidecarTimeout; a missing binary a SidecarUnavailable naming it", async (t) => {
  const { s } = fake(t, { mode: "hang", on: "status" });
  s.start();
  await s.call("initialize", {}, { timeoutMs: 5000 });
  await assert.rejects(s.call("status", {}, { timeoutMs: 100 }), SidecarTimeout);
  const failures = [];
  const gone = new Sidecar({ binary: "/nonexistent/opencode-balancer", onFailure: (r) => failures.push(r) });
  t.after(() => gone.close());
  const err = await gone.call("status", {}).catch((e) => e);
  assert.ok(err instanceof SidecarUnavailable, String(err));
  assert.match(err.message, /missing or not executable: \/nonexistent\/opencode-balancer/);
  assert.equal(failures.length, 1);
});

test("notifications reach each listener until it unsubscribes; notify is written without an id", async (t) => {
  const { s, log } = fake(t, { notifyOnInit: [{ method: "store.changed", params: { n: 1 } }] });
  const seen = [];
  const other = [];
  const unsubscribe = s.onNotification((method, params) => seen.push([method, params]));
  s.onNotification((method) => other.push(method));
  s.start();
  await s.call("initialize", {}, { timeoutMs: 5000 });
  await waitFor(() => seen.length === 1, 5000, "the notification");
  assert.deepEqual(seen, [["store.changed", { n: 1 }]]);
  unsubscribe();
  await s.call("initialize", {}, { timeoutMs: 5000 });
  await waitFor(() => other.length === 2, 5000, "the second notification");
  assert.equal(seen.length, 1, "not after unsubscribing");
  assert.equal(s.notify("fetch.result", { x: 1 }), true);
  await waitFor(() => fakeLog(log).some((m) => m.method === "fetch.result"), 5000, "the notification logged");
  assert.equal(fakeLog(log).find((m) => m.method === "fetch.result").id, undefined);
});

test("args go before `serve`, serveArgs after it", async (t) => {
  const { s, log } = fake(t, {}, { args: ["--store", "/x/s.sqlite"], serveArgs: ["--no-background"] });
  s.start();
  await s.call("initialize", {}, { timeoutMs: 5000 });
  assert.deepEqual(fakeLog(log).find((m) => m.started).argv, ["--store", "/x/s.sqlite", "serve", "--no-background"]);
});

test("a crashed sidecar is restarted with backoff and answers again; after close nothing is", async (t) => {
  const dir = tempDir("ocb-common-once-");
  t.after(() => removeDir(dir));
  const { s, log } = fake(t, { mode: "crash", on: "status", onceFile: join(dir, "crashed") });
  s.start();
  await assert.rejects(s.call("status", {}, { timeoutMs: 5000 }), SidecarUnavailable);
  await waitFor(() => fakeLog(log).filter((m) => m.started).length === 2, 5000, "the restart");
  await waitFor(() => s.running, 5000, "running again");
  assert.ok(await s.call("status", {}, { timeoutMs: 5000 }));
  await s.close();
  await assert.rejects(s.call("status", {}, { timeoutMs: 5000 }), SidecarUnavailable);
});
