// A fake of the @opentui/solid pieces tui/index.js uses: elements as plain objects, the last
// useKeyboard handler kept (the view that has the keyboard), a fixed terminal size.
export const keyboard = { handler: null };
export const createElement = (tag) => ({ tag, props: {}, children: [] });
export const setProp = (node, k, v) => (node.props[k] = v);
export function insert(node, child) {
  const c = typeof child === "function" ? child() : child;
  node.children.push(...(Array.isArray(c) ? c : [c]));
}
export const useKeyboard = (f) => (keyboard.handler = f);
export const useTerminalDimensions = () => () => ({ width: 150, height: 45 });
/** The text of an element tree. */
export function text(node) {
  if (node == null) return "";
  if (typeof node === "string") return node;
  return (node.children ?? []).map(text).join("\n");
}
