// The opencode 2 TUI adapter (issue 32): a stub for now; the v2tui work fills it.
export async function setupV2Tui(api, deps) {
  void api;
  void deps;
}
