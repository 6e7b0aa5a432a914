// The TUI plugin's element helpers on @opentui/solid and solid-js (which opencode supplies, V1
// and V2 alike): an element with reactive props and children, and a view inside an error
// boundary so a render error shows a line instead of taking the TUI down.
import { createComponent, createRenderEffect, ErrorBoundary } from "solid-js";
import { createElement, insert, setProp } from "@opentui/solid";
import { safeText } from "./view.js";

/** An element; a function prop is reactive, children are inserted (functions reactively). */
export function el(tag, props = {}, ...children) {
  const node = createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (typeof v === "function" && !k.startsWith("on")) createRenderEffect(() => setProp(node, k, v()));
    else setProp(node, k, v);
  }
  for (const c of children) insert(node, c);
  return node;
}

/** `View` inside an error boundary; `errorColor()` is the colour its one line of failure is drawn in. */
export function guarded(View, errorColor) {
  return createComponent(ErrorBoundary, {
    fallback: (e) => el("text", { fg: errorColor }, `Balancer: this view failed (${safeText(e?.message ?? e)}); Esc closes it.`),
    get children() {
      return createComponent(View, {});
    },
  });
}
