// A toast the sidecar asks for shows control and bidi characters escaped (never raw), with its
// lines kept, the same as tui/view.js safeText: node --test plugin/test/

import { test } from "node:test";
import assert from "node:assert/strict";

import { server } from "../index.js";
import { safeText } from "../../tui/view.js";
import { FAST, captureConsoleError, fakeClient, fakeSidecar, removeDir, tempDir, waitFor } from "./helpers.mjs";

test("a toast shows control and bidi characters escaped and keeps its lines", async (t) => {
  // ESC sequences are stripped first (stripAnsi); what is left is escaped.
  const message = "plan Pro\u001b]0;pwned\u0007 \u001b[2J\u009d\u0007\u202etxt\u2066\u007f\u200f\nline two\ttab\r";
  const dir = tempDir();
  const consoleErr = captureConsoleError();
  const fake = fakeSidecar(dir, { notifyOnInit: [{ method: "toast", params: { message, variant: "info" } }] });
  const { client, calls } = fakeClient();
  const hooks = await server({ client, directory: dir, worktree: dir, project: { id: "p" } }, { ...FAST, binary: fake.binary });
  t.after(async () => {
    await hooks.dispose?.();
    consoleErr.restore();
    delete process.env.FAKE_SIDECAR_CONFIG;
    removeDir(dir);
  });
  await waitFor(() => calls.toasts.length >= 1, 3000, "toast");
  const shown = calls.toasts[0].body.message;
  assert.doesNotMatch(shown, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u, shown);
  assert.equal(shown, "plan Pro \\u{9d}\\u{7}\\u{202e}txt\\u{2066}\\u{7f}\\u{200f}\nline two\ttab\\u{d}");
  const leftByStripAnsi = "plan Pro \u009d\u0007\u202etxt\u2066\u007f\u200f\nline two\ttab\r";
  assert.equal(shown, safeText(leftByStripAnsi, true), "the same escape as the TUI's");
});
