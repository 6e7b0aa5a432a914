// A fake of the few solid-js pieces tui/index.js uses: signals without reactivity (a view is
// rendered again by calling it), components as plain calls.
export function createSignal(value) {
  let v = value;
  return [() => v, (next) => (v = typeof next === "function" ? next(v) : next)];
}
export const createRenderEffect = (f) => f();
export const createComponent = (C, props) => (typeof C === "function" ? C(props) : { component: C, props });
export const ErrorBoundary = (props) => props.children;
