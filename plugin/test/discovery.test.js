// The plugin as npm installs it: the binary from the platform package beside
// it in node_modules, else OPENCODE_BALANCER_BIN, else PATH; a missing binary
// or one of another protocol version leaves every request untouched and tells
// the user once what to do.

import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

import {
  FAST,
  MARKER,
  copyPackage,
  captureConsoleError,
  fakeClient,
  fakeStarts,
  headersInput,
  keyedResponder,
  loopback,
  scenario,
  warnings,
  wrapper,
} from "./helpers.mjs";

let copies = 0;

/**
 * A project folder as `npm i opencode-balancer` leaves it: the plugin in
 * node_modules/opencode-balancer/plugin/, and (with `binaryId`) the platform
 * package for this machine holding a fake binary. Returns the plugin module.
 */
async function npmInstalled(dir, binaryId) {
  const modules = join(dir, "project", "node_modules");
  const copy = copyPackage(join(modules, "opencode-balancer"));
  writeFileSync(join(modules, "opencode-balancer", "package.json"), JSON.stringify({ name: "opencode-balancer", type: "module" }));
  // Both libc variants on Linux (npm installs the one that matches; the test need not know which).
  const base = `opencode-balancer-${process.platform}-${process.arch}`;
  for (const name of binaryId ? [base, `${base}-musl`] : []) {
    const pkg = join(modules, name);
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, "package.json"), JSON.stringify({ name, version: "0.3.0" }));
    wrapper(join(pkg, "bin"), "opencode-balancer", binaryId);
  }
  copies += 1;
  return import(pathToFileURL(copy).href + `?copy=${copies}`);
}

/** The hooks of `mod` with a fake client; disposed when the test ends. */
async function start(t, mod, options = {}) {
  const quiet = captureConsoleError();
  const { client, calls } = fakeClient();
  const hooks = await mod.server({ client }, { ...FAST, ...options });
  t.after(async () => {
    await hooks.dispose();
    quiet.restore();
  });
  return { hooks, calls, lines: quiet.lines };
}

/** Which fake answered: its id is the first word of command.run's output. */
async function whoAnswers(t, mod, options) {
  const { hooks } = await start(t, mod, options);
  const out = await hooks.tool.balancer_command.execute({ text: "status" });
  return out.split(":")[0];
}

/** chat.headers and a marked request, as opencode sends them: both must leave untouched. */
async function passesThrough(t, hooks) {
  const output = { headers: {} };
  await hooks["chat.headers"](headersInput("mock"), output);
  assert.deepEqual(output.headers, {}, "no marker without a usable sidecar");
  const http = await loopback(keyedResponder({ "key-a": 429 }));
  t.after(() => http.close());
  const res = await fetch(`${http.url}/v1/chat`, {
    method: "POST",
    headers: { [MARKER]: "req-1", authorization: "Bearer key-a" },
    body: "{}",
  });
  assert.equal(res.status, 429, "the provider's own answer comes back");
  assert.equal(http.requests.length, 1, "sent once, not retried");
  assert.equal(http.requests[0].headers.authorization, "Bearer key-a", "credentials untouched");
  assert.equal(http.requests[0].headers[MARKER], undefined, "the marker never reaches the provider");
}

test("installed with npm, the binary comes from the platform package, before OPENCODE_BALANCER_BIN and PATH", async (t) => {
  const { dir } = scenario(t);
  process.env.OPENCODE_BALANCER_BIN = wrapper(join(dir, "e"), "ocb", "from-env");
  const mod = await npmInstalled(dir, "from-package");
  assert.equal(await whoAnswers(t, mod), "from-package");
});

test("the option `binary` still wins over the platform package", async (t) => {
  const { dir } = scenario(t);
  const mod = await npmInstalled(dir, "from-package");
  assert.equal(await whoAnswers(t, mod, { binary: wrapper(join(dir, "o"), "ocb", "from-option") }), "from-option");
});

test("without the platform package, OPENCODE_BALANCER_BIN", async (t) => {
  const { dir } = scenario(t);
  process.env.OPENCODE_BALANCER_BIN = wrapper(join(dir, "e"), "ocb", "from-env");
  const mod = await npmInstalled(dir, null);
  assert.equal(await whoAnswers(t, mod), "from-env");
});

test("without the platform package and the variable, PATH", async (t) => {
  const { dir } = scenario(t);
  const mod = await npmInstalled(dir, null);
  assert.equal(await whoAnswers(t, mod), "from-path");
});

test("no binary anywhere: requests pass through and the user is told once what to do", async (t) => {
  const { dir } = scenario(t);
  process.env.PATH = "/usr/bin:/bin";
  const mod = await npmInstalled(dir, null);
  const { hooks, calls, lines } = await start(t, mod);
  await passesThrough(t, hooks);
  await new Promise((r) => setTimeout(r, 300)); // restart attempts (FAST: every few ms)
  await passesThrough(t, hooks);
  assert.equal(warnings(calls).length, 1, "one toast");
  assert.equal(lines.length, 1, "one console line");
  for (const text of [warnings(calls)[0].body.message, lines[0]]) {
    assert.match(text, /binary was not found/);
    assert.match(text, /npm i opencode-balancer/);
    assert.match(text, /OPENCODE_BALANCER_BIN/);
    assert.match(text, /unchanged/);
  }
});

for (const [what, initialize, advice] of [
  ["too old (no protocol version)", { server: { name: "opencode-balancer", version: "0.1.0" } }, /upgrade the binary to 0\.3\.0.*npm i opencode-balancer/],
  ["too old (protocol 0)", { server: { name: "opencode-balancer", version: "0.2.0" }, protocolVersion: 0 }, /upgrade the binary/],
  ["newer (protocol 2)", { server: { name: "opencode-balancer", version: "9.0.0" }, protocolVersion: 2 }, /upgrade the plugin/],
]) {
  test(`a binary of another protocol, ${what}: stopped, requests pass through, the user is told once`, async (t) => {
    const { dir, log } = scenario(t, { results: { initialize } });
    const mod = await npmInstalled(dir, "from-package");
    const { hooks, calls, lines } = await start(t, mod);
    const told = async () => {
      for (let i = 0; i < 250 && warnings(calls).length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      return warnings(calls).length;
    };
    assert.equal(await told(), 1, "a warning once the handshake is answered");
    await passesThrough(t, hooks);
    const out = await hooks.tool.balancer_command.execute({ text: "status" });
    assert.match(out, /unavailable|needs protocol 1/);
    await new Promise((r) => setTimeout(r, 300));
    await passesThrough(t, hooks);
    assert.equal(fakeStarts(log).length, 1, "not restarted");
    assert.equal(warnings(calls).length, 1, "one toast");
    assert.equal(lines.length, 1, "one console line");
    for (const text of [warnings(calls)[0].body.message, lines[0]]) {
      assert.match(text, /needs protocol 1/);
      assert.match(text, advice);
      assert.match(text, /unchanged/);
    }
  });
}
