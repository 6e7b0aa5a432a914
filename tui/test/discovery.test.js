// The TUI plugin as npm installs it: the binary from the platform package beside it, else
// OPENCODE_BALANCER_BIN, else PATH; a sidecar of another protocol version is stopped for good
// and the reason (what to do) is the connection state the view shows.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Client, packageBinary, platformPackages, resolveBinary } from "../rpc.js";

function scratch(t) {
  const dir = mkdtempSync(join(tmpdir(), "ocb-tui-discovery-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function executable(path, text) {
  writeFileSync(path, text);
  chmodSync(path, 0o755);
  return path;
}

/** node_modules/opencode-balancer/tui/index.js's URL, with the platform package beside it. */
function npmInstalled(dir, platform = process.platform, arch = process.arch) {
  const modules = join(dir, "node_modules");
  mkdirSync(join(modules, "opencode-balancer", "tui"), { recursive: true });
  const name = `opencode-balancer-${platform}-${arch}`;
  mkdirSync(join(modules, name, "bin"), { recursive: true });
  writeFileSync(join(modules, name, "package.json"), JSON.stringify({ name, version: "0.3.0" }));
  const bin = executable(join(modules, name, "bin", "opencode-balancer"), "#!/bin/sh\nexit 0\n");
  return { here: pathToFileURL(join(modules, "opencode-balancer", "tui", "index.js")).href, bin };
}

test("the platform package's names for this machine", () => {
  assert.deepEqual(platformPackages("darwin", "arm64"), ["opencode-balancer-darwin-arm64"]);
  assert.deepEqual(platformPackages("win32", "x64"), ["opencode-balancer-win32-x64"]);
  assert.deepEqual(platformPackages("linux", "x64", false), ["opencode-balancer-linux-x64", "opencode-balancer-linux-x64-musl"]);
  assert.deepEqual(platformPackages("linux", "arm64", true), ["opencode-balancer-linux-arm64-musl", "opencode-balancer-linux-arm64"]);
});

test("the platform package comes before OPENCODE_BALANCER_BIN and PATH; the option before it", (t) => {
  const dir = scratch(t);
  const { here, bin } = npmInstalled(dir);
  mkdirSync(join(dir, "path"));
  executable(join(dir, "path", "opencode-balancer"), "#!/bin/sh\n");
  const env = { OPENCODE_BALANCER_BIN: "/elsewhere/opencode-balancer", PATH: join(dir, "path") };
  assert.equal(packageBinary(here), bin);
  assert.deepEqual(resolveBinary({}, null, env, here), { path: bin, source: "the platform package" });
  assert.equal(resolveBinary({ binary: "/opt/ocb" }, null, env, here).path, "/opt/ocb");
});

test("without the platform package: OPENCODE_BALANCER_BIN, then PATH", (t) => {
  const dir = scratch(t);
  mkdirSync(join(dir, "node_modules", "opencode-balancer", "tui"), { recursive: true });
  const here = pathToFileURL(join(dir, "node_modules", "opencode-balancer", "tui", "index.js")).href;
  mkdirSync(join(dir, "path"));
  const onPath = executable(join(dir, "path", "opencode-balancer"), "#!/bin/sh\n");
  assert.equal(packageBinary(here), null);
  assert.equal(resolveBinary({}, null, { OPENCODE_BALANCER_BIN: "/e/ocb", PATH: join(dir, "path") }, here).path, "/e/ocb");
  assert.deepEqual(resolveBinary({}, null, { PATH: join(dir, "path") }, here), { path: onPath, source: "PATH" });
  assert.equal(resolveBinary({}, null, { PATH: "" }, here).path, null);
});

test("a sidecar without protocol version 1 is stopped, not restarted, and the state says to upgrade", async (t) => {
  const keep = setInterval(() => {}, 1000);
  t.after(() => clearInterval(keep));
  const dir = scratch(t);
  const starts = join(dir, "starts");
  // An old binary: answers initialize without protocolVersion, everything else with {}.
  const old = executable(
    join(dir, "old-sidecar"),
    `#!${process.execPath}
require("fs").appendFileSync(${JSON.stringify(starts)}, "start\\n");
require("readline").createInterface({ input: process.stdin }).on("line", (l) => {
  const m = JSON.parse(l);
  const result = m.method === "initialize" ? { server: { name: "opencode-balancer", version: "0.1.0" } } : {};
  process.stdout.write(JSON.stringify({ jsonrpc: "2.0", id: m.id, result }) + "\\n");
});
`,
  );
  const states = [];
  const client = new Client({ binary: { path: old, source: "test" }, onState: (c) => states.push(c) });
  t.after(() => client.stop());
  client.start();
  for (let i = 0; i < 250 && !states.some((s) => s.state === "down"); i++) await new Promise((r) => setTimeout(r, 20));
  const down = states.find((s) => s.state === "down");
  assert.ok(down, `states: ${JSON.stringify(states)}`);
  assert.match(down.reason, /no protocol version, this plugin 0\.3\.0 needs protocol 1: upgrade the binary/);
  assert.ok(!states.some((s) => s.state === "ready"));
  await assert.rejects(client.call("accounts.list"), /needs protocol 1/);
  await new Promise((r) => setTimeout(r, 1500)); // past the first restart delay
  assert.equal(readFileSync(starts, "utf8"), "start\n", "started once");
});

test("calls made while a sidecar that died waits out its restart delay start no other", async (t) => {
  const dir = scratch(t);
  const starts = join(dir, "starts");
  const dies = join(dir, "dies");
  executable(dies, `#!/bin/sh\necho start >> "${starts}"\nexit 3\n`);
  const states = [];
  const client = new Client({ binary: { path: dies, source: "test" }, onState: (c) => states.push(c) });
  t.after(() => client.stop());
  client.start();
  for (let i = 0; i < 250 && !states.some((s) => s.state === "down"); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(states.some((s) => s.state === "down"), "it died");
  for (let i = 0; i < 5; i++) await assert.rejects(client.call("accounts.list"));
  assert.equal(readFileSync(starts, "utf8"), "start\n", "the calls waited for the restart delay (1 s) to pass");
});
