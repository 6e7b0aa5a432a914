#!/usr/bin/env node
// Assembles the npm packages from a built binary and the plugin files, then `npm pack`s them.
//
//   node npm/build.mjs                          # this machine: target/release/opencode-balancer
//   node npm/build.mjs --target aarch64-unknown-linux-musl   # binary from target/<triple>/release/
//   node npm/build.mjs --platform linux-arm64-musl --binary path/to/opencode-balancer
//   node npm/build.mjs --only main              # just `opencode-balancer` (no binary needed)
//   node npm/build.mjs --only platform          # just the platform package
//   node npm/build.mjs --out target/npm --no-pack
//
// Two packages, both at the version in Cargo.toml:
//   opencode-balancer              the server plugin (main, "." and "./server") and the TUI plugin
//                                  ("./tui"), plain ESM, with optionalDependencies on every platform
//                                  package; npm/bun install only the one matching os/cpu/libc.
//   opencode-balancer-<platform>   bin/opencode-balancer(.exe) for one platform, nothing else.
// Staged in <out>/<package name>/, tarballs in <out>/. Plain Node, no dependencies.

import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const NAME = "opencode-balancer";

/** Every platform package: npm's os/cpu/libc fields and the Rust target that builds it. */
export const PLATFORMS = {
  "linux-x64": { os: "linux", cpu: "x64", libc: "glibc", target: "x86_64-unknown-linux-gnu" },
  "linux-arm64": { os: "linux", cpu: "arm64", libc: "glibc", target: "aarch64-unknown-linux-gnu" },
  "linux-x64-musl": { os: "linux", cpu: "x64", libc: "musl", target: "x86_64-unknown-linux-musl" },
  "linux-arm64-musl": { os: "linux", cpu: "arm64", libc: "musl", target: "aarch64-unknown-linux-musl" },
  "darwin-x64": { os: "darwin", cpu: "x64", target: "x86_64-apple-darwin" },
  "darwin-arm64": { os: "darwin", cpu: "arm64", target: "aarch64-apple-darwin" },
  "win32-x64": { os: "win32", cpu: "x64", target: "x86_64-pc-windows-msvc" },
};

/** The folders of the main package's JavaScript, relative to the repository and to the package alike. */
const PLUGIN_DIRS = ["common", "plugin", "tui"];

/** Every .js file under PLUGIN_DIRS but tests (the same set src/install/package.rs embeds). */
function pluginFiles(dir = null) {
  const out = [];
  for (const d of dir ? [dir] : PLUGIN_DIRS) {
    for (const e of readdirSync(join(ROOT, d), { withFileTypes: true })) {
      const rel = `${d}/${e.name}`;
      if (e.isDirectory()) {
        if (e.name !== "test" && e.name !== "node_modules") out.push(...pluginFiles(rel));
      } else if (e.name.endsWith(".js")) out.push(rel);
    }
  }
  return out.sort();
}
/** The package's root module, for opencode 2 (see buildMain). */
const ROOT_ENTRY = "index.js";
/** The package's command: a shim that runs the platform package's binary. */
const SHIM = ["npm/bin/opencode-balancer.js", "bin/opencode-balancer.js"];

function die(message) {
  process.stderr.write(`npm/build.mjs: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const args = { out: join(ROOT, "target", "npm"), pack: true, only: null, platform: null, target: null, binary: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => argv[++i] ?? die(`${a} needs a value`);
    if (a === "--out") args.out = resolve(value());
    else if (a === "--platform") args.platform = value();
    else if (a === "--target") args.target = value();
    else if (a === "--binary") args.binary = resolve(value());
    else if (a === "--only") args.only = value();
    else if (a === "--no-pack") args.pack = false;
    else if (a === "--help" || a === "-h") {
      process.stdout.write(readFileSync(fileURLToPath(import.meta.url), "utf8").split("\n").slice(1, 16).join("\n") + "\n");
      process.exit(0);
    } else die(`unknown argument ${a}`);
  }
  if (args.only !== null && !["main", "platform"].includes(args.only)) die("--only is main or platform");
  return args;
}

/** This machine's platform package name (musl told apart by Node's own report). */
function hostPlatform() {
  const base = `${process.platform}-${process.arch}`;
  if (process.platform !== "linux") return base;
  const glibc = process.report?.getReport?.()?.header?.glibcVersionRuntime;
  return glibc ? base : `${base}-musl`;
}

function cargoVersion() {
  const toml = readFileSync(join(ROOT, "Cargo.toml"), "utf8");
  const pkg = toml.split(/^\[/m).find((s) => s.startsWith("package]"));
  const m = pkg?.match(/^version\s*=\s*"([^"]+)"/m);
  if (!m) die("no version in Cargo.toml's [package]");
  return m[1];
}

function writeJson(path, value) {
  writeFileSync(path, JSON.stringify(value, null, 2) + "\n");
}

const common = (version) => ({
  version,
  license: "MIT",
});

function buildMain(out, version) {
  const dir = join(out, NAME);
  rmSync(dir, { recursive: true, force: true });
  const source = readFileSync(join(ROOT, "common/version.js"), "utf8");
  const stated = source.match(/^export const PLUGIN_VERSION = "([^"]+)";/m)?.[1];
  if (stated !== version) die(`common/version.js says PLUGIN_VERSION ${stated}, Cargo.toml ${version}`);
  for (const f of pluginFiles()) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    copyFileSync(join(ROOT, f), join(dir, f));
  }
  // opencode 2 loads a plugin folder named in "plugins" by resolving <folder>/server, then
  // <folder>/index — never its "exports" — so the package needs a root module (without it the
  // folder is skipped silently). <folder>/tui resolves to tui/index.js by itself.
  writeFileSync(join(dir, ROOT_ENTRY), 'export * from "./plugin/index.js";\nexport { default } from "./plugin/index.js";\n');
  mkdirSync(join(dir, "bin"), { recursive: true });
  copyFileSync(join(ROOT, SHIM[0]), join(dir, SHIM[1]));
  chmodSync(join(dir, SHIM[1]), 0o755);
  writeJson(join(dir, "package.json"), {
    name: NAME,
    ...common(version),
    description: "opencode plugin: saves every account, fails over to a healthy one on a rate limit, balances providers.",
    keywords: ["opencode", "opencode-plugin", "rate-limit", "failover"],
    type: "module",
    main: "./plugin/index.js",
    bin: { [NAME]: SHIM[1] },
    exports: {
      ".": "./plugin/index.js",
      "./server": "./plugin/index.js",
      "./tui": "./tui/index.js",
      "./package.json": "./package.json",
    },
    files: [ROOT_ENTRY, ...PLUGIN_DIRS.map((d) => `${d}/`), SHIM[1], "README.md"],
    optionalDependencies: Object.fromEntries(Object.keys(PLATFORMS).map((p) => [`${NAME}-${p}`, version])),
  });
  writeFileSync(
    join(dir, "README.md"),
    `# ${NAME}

The opencode plugin of opencode-balancer:
it keeps opencode working across rate limits (saves every account, fails over to a healthy one,
balances providers).

Install it with opencode's own command, which names it in both configs, and restart opencode:

\`\`\`sh
opencode plugin ${NAME} --global
\`\`\`

Or name it yourself, the same name in both configs (opencode takes the \`./server\` export for
opencode.json and the \`./tui\` export for tui.json), or run \`npx opencode-balancer install --npm\`:

\`\`\`jsonc
// ~/.config/opencode/opencode.json
{ "plugin": ["${NAME}"] }
// ~/.config/opencode/tui.json
{ "plugin": ["${NAME}"] }
\`\`\`

What this package contains:

- \`plugin/\` — the server plugin, \`plugin/index.js\` its entry (the package's main, \`${NAME}\` and \`${NAME}/server\`);
- \`common/\` — what both plugins share: the version, finding the binary, the sidecar client;
- \`tui/\` — the TUI plugin (the \`./tui\` export, which opencode loads for tui.json): the \`/balancer\` dashboard and the footer;
- \`bin/opencode-balancer.js\` — the \`opencode-balancer\` command (\`npx opencode-balancer install --npm\`
  writes both entries above for you; \`npx opencode-balancer accounts list\`, …): it runs the binary below;
- no binary: npm or bun installs the one \`${NAME}-<os>-<arch>\` optional dependency that matches
  this machine, which holds the prebuilt \`opencode-balancer\` binary. The plugin looks for it
  there first, then at \`OPENCODE_BALANCER_BIN\`, then on \`PATH\`.
`,
  );
  return dir;
}

function buildPlatform(out, version, platform, binary) {
  const info = PLATFORMS[platform];
  const name = `${NAME}-${platform}`;
  const dir = join(out, name);
  rmSync(dir, { recursive: true, force: true });
  const exe = info.os === "win32" ? `${NAME}.exe` : NAME;
  if (!existsSync(binary) || !statSync(binary).isFile()) die(`no binary at ${binary} (cargo build --release first)`);
  mkdirSync(join(dir, "bin"), { recursive: true });
  copyFileSync(binary, join(dir, "bin", exe));
  chmodSync(join(dir, "bin", exe), 0o755);
  writeJson(join(dir, "package.json"), {
    name,
    ...common(version),
    description: `The opencode-balancer binary for ${platform} (${info.target}); installed by the opencode-balancer package.`,
    os: [info.os],
    cpu: [info.cpu],
    ...(info.libc ? { libc: [info.libc] } : {}),
    files: [`bin/${exe}`, "README.md"],
    preferUnplugged: true,
  });
  writeFileSync(
    join(dir, "README.md"),
    `# ${name}

The prebuilt \`opencode-balancer\` binary for ${platform} (Rust target \`${info.target}\`), in
\`bin/${exe}\`. Nothing else: install \`${NAME}\`, which
depends on this package (optionally, only on ${platform}) and finds the binary here.
`,
  );
  return dir;
}

function pack(dir, out) {
  const stdout = execFileSync("npm", ["pack", "--json", "--pack-destination", out], {
    cwd: dir,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const [info] = JSON.parse(stdout);
  return join(out, info.filename);
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  let platform = args.platform;
  if (!platform && args.target) {
    platform = Object.keys(PLATFORMS).find((p) => PLATFORMS[p].target === args.target);
    if (!platform) die(`no platform package for the Rust target ${args.target}`);
  }
  platform ??= hostPlatform();
  if (!PLATFORMS[platform]) die(`unknown platform ${platform} (one of ${Object.keys(PLATFORMS).join(", ")})`);
  if (args.target && PLATFORMS[platform].target !== args.target) die(`${platform} is built by ${PLATFORMS[platform].target}, not ${args.target}`);
  const exe = PLATFORMS[platform].os === "win32" ? `${NAME}.exe` : NAME;
  const binary = args.binary ?? join(ROOT, "target", ...(args.target ? [args.target] : []), "release", exe);
  const version = cargoVersion();
  mkdirSync(args.out, { recursive: true });
  const dirs = [];
  if (args.only !== "main") dirs.push(buildPlatform(args.out, version, platform, binary));
  if (args.only !== "platform") dirs.push(buildMain(args.out, version));
  for (const dir of dirs) {
    process.stdout.write(`staged ${dir}\n`);
    if (args.pack) process.stdout.write(`packed ${pack(dir, args.out)}\n`);
  }
}

main();
