// Where the plugin finds the sidecar binary: option `binary`, (the platform
// package, in discovery.test.js), then OPENCODE_BALANCER_BIN, then the path
// `opencode-balancer install` wrote, then PATH, then ../target/release next to
// the plugin file.

import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

import { server } from "../index.js";
import {
  FAST,
  BINARY_JS_PATH,
  copyPackage,
  captureConsoleError,
  fakeClient,
  scenario,
  wrapper,
} from "./helpers.mjs";

const INSTALL_LINE = "const INSTALLED_BINARY = null; // replaced by opencode-balancer install";

/** A copy of the plugin as `install` writes it: INSTALLED_BINARY set. */
function installedCopy(dir, binary) {
  const source = readFileSync(BINARY_JS_PATH, "utf8");
  assert.ok(source.includes(INSTALL_LINE));
  const path = copyPackage(join(dir, "installed"));
  writeFileSync(join(dir, "installed", "common", "binary.js"), source.replace(INSTALL_LINE, `const INSTALLED_BINARY = ${JSON.stringify(binary)}; // replaced by opencode-balancer install`));
  return path;
}

/** Which fake answered: its id is the first word of command.run's output. */
async function whoAnswers(serverFn, options = {}) {
  const quiet = captureConsoleError();
  const hooks = await serverFn({ client: fakeClient().client }, { ...FAST, ...options });
  try {
    const out = await hooks.tool.balancer_command.execute({ text: "status" });
    return out.split(":")[0];
  } finally {
    await hooks.dispose();
    quiet.restore();
  }
}

test("the option `binary` comes first", async (t) => {
  const { dir } = scenario(t);
  const opt = wrapper(join(dir, "o"), "ocb", "from-option");
  process.env.OPENCODE_BALANCER_BIN = wrapper(join(dir, "e"), "ocb", "from-env");
  assert.equal(await whoAnswers(server, { binary: opt }), "from-option");
});

test("then OPENCODE_BALANCER_BIN", async (t) => {
  const { dir } = scenario(t);
  process.env.OPENCODE_BALANCER_BIN = wrapper(join(dir, "e"), "ocb", "from-env");
  assert.equal(await whoAnswers(server), "from-env");
});

test("an explicit path that does not exist means no sidecar, not a fallback", async (t) => {
  const { dir } = scenario(t);
  process.env.OPENCODE_BALANCER_BIN = join(dir, "nope", "opencode-balancer");
  const out = await whoAnswers(server);
  assert.match(out, /opencode-balancer is unavailable/);
});

test("then the path `install` wrote into the plugin", async (t) => {
  const { dir } = scenario(t);
  const installed = wrapper(join(dir, "i"), "ocb", "from-install");
  const mod = await import(pathToFileURL(installedCopy(dir, installed)).href);
  assert.equal(await whoAnswers(mod.server), "from-install");
});

test("an installed path that is gone falls back to PATH", async (t) => {
  const { dir } = scenario(t);
  const mod = await import(pathToFileURL(installedCopy(dir, join(dir, "gone", "ocb"))).href + "?gone");
  assert.equal(await whoAnswers(mod.server), "from-path");
});

test("last, the checkout's target/release next to the plugin", async (t) => {
  const { dir } = scenario(t);
  process.env.PATH = "/usr/bin:/bin"; // no opencode-balancer there
  const copy = copyPackage(join(dir, "checkout"));
  wrapper(join(dir, "checkout", "target", "release"), "opencode-balancer", "from-checkout");
  const mod = await import(pathToFileURL(copy).href);
  assert.equal(await whoAnswers(mod.server), "from-checkout");
});
