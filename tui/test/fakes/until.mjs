// Waiting in the TUI plugin's tests: until a condition holds (polled), or fail naming what.
import assert from "node:assert/strict";

/** Resolves to `f()`'s first truthy value; fails with `what` after `ms`. */
export async function until(what, f, ms = 10_000, every = 5) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
