// Where the sidecar binary is: the option, the platform package, OPENCODE_BALANCER_BIN, the path install wrote, PATH, a checkout.
import { accessSync, constants as fsConstants, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BINARY_NAME } from "./version.js";

const INSTALLED_BINARY = null; // replaced by opencode-balancer install
/** What a user does about a missing or unusable binary. */
export const WHAT_TO_DO =
  'add "opencode-balancer" to the plugin list of opencode.json (opencode installs it with its binary), ' +
  "or run `npm i opencode-balancer` next to opencode's config, set OPENCODE_BALANCER_BIN to the binary, " +
  "or put it on PATH (`cargo install opencode-balancer`)";

export function isExecutableFile(path) {
  try {
    if (!statSync(path).isFile()) return false;
    if (process.platform !== "win32") accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function findOnPath(name, env = process.env) {
  const dirs = (env.PATH || "").split(delimiter).filter(Boolean);
  const names = process.platform === "win32" ? [name + ".exe", name + ".cmd", name] : [name];
  for (const dir of dirs) {
    for (const n of names) {
      const candidate = join(dir, n);
      if (isExecutableFile(candidate)) return candidate;
    }
  }
  return null;
}

export function checkoutBinary(here = import.meta.url) {
  try {
    return fileURLToPath(new URL(`../target/release/${BINARY_NAME}`, here));
  } catch {
    return null;
  }
}

/** Whether this Linux runs musl: Node's report names glibc when there is one. */
export function isMusl() {
  if (process.platform !== "linux") return false;
  try {
    if (process.report?.getReport?.()?.header?.glibcVersionRuntime) return false;
  } catch {
    // no report: look at the loader
  }
  try {
    return readdirSync("/lib").some((f) => f.startsWith("ld-musl-"));
  } catch {
    return false;
  }
}

/** The platform package names for this machine, the most likely first (Linux: both libcs). */
export function platformPackages(platform = process.platform, arch = process.arch, musl = platform === "linux" && isMusl()) {
  const base = `${BINARY_NAME}-${platform}-${arch}`;
  if (platform !== "linux") return [base];
  return musl ? [`${base}-musl`, base] : [base, `${base}-musl`];
}

/** The binary of the platform package `opencode-balancer-<os>-<arch>[-musl]` installed beside `here` (a file: URL), or null. */
export function packageBinary(here = import.meta.url, platform = process.platform, arch = process.arch) {
  let require;
  try {
    require = createRequire(here);
  } catch {
    return null;
  }
  const exe = platform === "win32" ? `${BINARY_NAME}.exe` : BINARY_NAME;
  for (const name of platformPackages(platform, arch)) {
    try {
      const path = join(dirname(require.resolve(`${name}/package.json`)), "bin", exe);
      if (isExecutableFile(path)) return path;
    } catch {
      // not installed
    }
  }
  return null;
}

/**
 * Where the sidecar binary is, and which rule found it (plugin/index.js says why this order).
 * `where` is for tests: `{env, here, installed}` (defaults: process.env, this file, the install path).
 */
export function resolveBinary(options = {}, where = {}) {
  const env = where.env ?? process.env;
  const here = where.here ?? import.meta.url;
  const installed = where.installed === undefined ? INSTALLED_BINARY : where.installed;
  if (typeof options.binary === "string" && options.binary !== "") {
    return { path: options.binary, source: "the plugin option `binary`" };
  }
  const fromPackage = packageBinary(here);
  if (fromPackage) return { path: fromPackage, source: "the platform package" };
  const fromEnv = env.OPENCODE_BALANCER_BIN;
  if (fromEnv) return { path: fromEnv, source: "OPENCODE_BALANCER_BIN" };
  if (typeof installed === "string" && installed && isExecutableFile(installed)) {
    return { path: installed, source: "opencode-balancer install" };
  }
  const onPath = findOnPath(BINARY_NAME, env);
  if (onPath) return { path: onPath, source: "PATH" };
  const checkout = checkoutBinary(here);
  if (checkout && isExecutableFile(checkout)) return { path: checkout, source: "the checkout" };
  return { path: null, source: null };
}
