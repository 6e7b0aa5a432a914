// The TUI plugin's sidecar client (tui/rpc.js) against the real binary (OPENCODE_BALANCER_BIN,
// else target/release/): calls, the store.changed push when the CLI changes the store, and a
// missing binary reported as a clear state.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client, resolveBinary } from "../rpc.js";

const BIN = process.env.OPENCODE_BALANCER_BIN || fileURLToPath(new URL("../../target/release/opencode-balancer", import.meta.url));

function world(t) {
  // The client never keeps its host alive (unref'd child, pipes, timers); the test must.
  const keep = setInterval(() => {}, 1000);
  t.after(() => clearInterval(keep));
  const dir = mkdtempSync(join(tmpdir(), "ocb-tui-rpc-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, store: join(dir, "balancer.sqlite") };
}

function until(what, f) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 10_000;
    const look = () => {
      if (f()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`never happened: ${what}`));
      setTimeout(look, 20);
    };
    look();
  });
}

test("the client-only sidecar answers calls and pushes store.changed when the CLI changes the store", async (t) => {
  assert.ok(existsSync(BIN), `no binary at ${BIN}: cargo build --release first`);
  const { dir, store } = world(t);
  const notes = [];
  const states = [];
  const client = new Client({
    binary: { path: BIN, source: "test" },
    args: ["--store", store],
    onNotification: (method) => notes.push(method),
    onState: (c) => states.push(c.state),
  });
  t.after(() => client.stop());
  client.start();
  await until("ready", () => states.includes("ready"));
  assert.deepEqual(await client.call("accounts.list"), []);
  execFileSync(BIN, ["--store", store, "accounts", "add", "p", "a", "--force"], { input: "sk-a-FAKE", env: { ...process.env, XDG_DATA_HOME: dir } });
  await until("store.changed", () => notes.includes("store.changed"));
  const list = await client.call("accounts.list");
  assert.deepEqual(list.map((a) => `${a.providerID}/${a.alias}`), ["p/a"]);
  await assert.rejects(client.call("accounts.activate", { providerID: "p", alias: "nope" }), /not found/);
});

test("a missing binary is a clear 'down' state and calls fail with the reason", async (t) => {
  const states = [];
  const client = new Client({ binary: { path: "/nonexistent/opencode-balancer", source: "test" }, onState: (c) => states.push(c) });
  t.after(() => client.stop());
  client.start();
  assert.equal(states.at(-1).state, "down");
  assert.match(states.at(-1).reason, /missing or not executable: \/nonexistent/);
  await assert.rejects(client.call("status"), /missing or not executable/);
});

test("the binary: the option, then OPENCODE_BALANCER_BIN, then the installed path", () => {
  assert.equal(resolveBinary({ binary: "/x/b" }, null, {}).path, "/x/b");
  assert.equal(resolveBinary({}, null, { OPENCODE_BALANCER_BIN: "/y/b" }).path, "/y/b");
  assert.match(resolveBinary({}, BIN, { PATH: "" }).source, /install/);
});
