// The opencode 2 server adapter (issue 32): registers V2's session hooks. A stub for now; the
// v2server work fills it (docs/architecture.md). `deps` carries what plugin/index.js shares.
export async function setupV2(ctx, deps) {
  void ctx;
  void deps;
}
