// Fakes of opencode 1.18.33's TUI pieces the plugin's tests need: its renderer as far as focus
// goes, and its dialog stack (the `Uy()` of its bundle).

/** The renderer: its prompt holds the focus at first and is what gets it back. */
export function fakeRenderer() {
  const r = { currentFocusedRenderable: null };
  r.prompt = {
    isDestroyed: false,
    focus: () => (r.currentFocusedRenderable = r.prompt),
    blur: () => (r.currentFocusedRenderable = null),
  };
  r.prompt.focus();
  return r;
}

/**
 * The dialog stack: replace closes (calls onClose of) what it replaces and, opening over an
 * empty stack, remembers and blurs what is focused; Esc (and Ctrl+C) closes the top then pops
 * it; clear closes all. As in opencode, the prompt focuses itself when the stack becomes empty
 * and blurs when it is not, and closing a dialog focuses what was remembered 1 ms later, whatever
 * the stack is then.
 */
export function fakeDialog(renderer = fakeRenderer()) {
  let remembered = null;
  const set = (stack) => {
    d.stack = stack;
    if (stack.length === 0) renderer.prompt.focus();
    else if (renderer.currentFocusedRenderable === renderer.prompt) renderer.prompt.blur();
  };
  const refocus = () => setTimeout(() => remembered?.focus(), 1);
  const d = {
    stack: [],
    renderer,
    replace(element, onClose) {
      if (d.stack.length === 0) {
        remembered = renderer.currentFocusedRenderable;
        remembered?.blur();
      }
      for (const e of d.stack) e.onClose?.();
      set([{ element, onClose }]);
    },
    escape() {
      d.stack.at(-1)?.onClose?.();
      set(d.stack.slice(0, -1));
      refocus();
    },
    clear() {
      for (const e of d.stack) e.onClose?.();
      set([]);
      refocus();
    },
    setSize() {},
    get open() {
      return d.stack.length > 0;
    },
    get top() {
      return d.stack.at(-1)?.element;
    },
  };
  return d;
}
