#!/usr/bin/env node
// The `opencode-balancer` command of the npm package (`npx opencode-balancer install --npm`):
// runs the binary of the platform package installed beside it, with the same arguments, stdio
// and exit code, found as the plugins find it (tui/rpc.js: no opencode imports there).
import { spawnSync } from "node:child_process";
import { constants } from "node:os";
import { packageBinary, platformPackages } from "../tui/rpc.js";

const binary = packageBinary(import.meta.url);
if (!binary) {
  process.stderr.write(
    `opencode-balancer: no binary for ${process.platform}-${process.arch}: none of ${platformPackages().join(", ")} ` +
      "is installed (npm skips optional dependencies with --no-optional/--omit=optional; install again without it)\n",
  );
  process.exit(1);
}
const r = spawnSync(binary, process.argv.slice(2), { stdio: "inherit", windowsHide: false });
if (r.error) {
  process.stderr.write(`opencode-balancer: could not run ${binary}: ${r.error.message}\n`);
  process.exit(1);
}
// Killed by a signal: the shell's convention, 128 + its number.
process.exit(r.status ?? 128 + (constants.signals[r.signal] ?? 0));
