// A node module-resolution hook for the TUI plugin's tests: `solid-js` and `@opentui/solid`
// (which opencode supplies at run time) resolve to the small fakes next to this file.
const FAKES = {
  "solid-js": new URL("./solid-js.mjs", import.meta.url).href,
  "@opentui/solid": new URL("./opentui-solid.mjs", import.meta.url).href,
};

export async function resolve(specifier, context, next) {
  if (FAKES[specifier]) return { url: FAKES[specifier], shortCircuit: true };
  return next(specifier, context);
}
