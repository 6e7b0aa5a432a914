// Text from outside as it may be shown: without terminal escapes (stripAnsi) or with unsafe characters made visible (safeText).
// CSI (ESC [ … final byte), OSC (ESC ] … BEL or ESC \\) and two-byte escapes; stray ESC/C1 bytes.
export const ANSI_ESCAPE = /\u001b\[[0-?]*[ -\/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]|[\u001b\u009b]/g;

/** Text without terminal escape sequences, for anything shown to the user. */
export function stripAnsi(text) {
  return typeof text === "string" ? text.replace(ANSI_ESCAPE, "") : text;
}

/**
 * Control characters (C0, DEL, C1 such as CSI \u009b and OSC \u009d) and bidi embeddings,
 * overrides, isolates and marks, and the line/paragraph separators: never shown raw. The same set
 * as the Rust side's `safe_text::is_unsafe`.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

/**
 * Text from outside (a provider, a config, the sidecar) as it may be shown: each unsafe character
 * becomes a visible `\u{1b}`, so nothing it says can retitle or clear the terminal or reorder text.
 * With `keepLines`, `\n` and `\t` stay (multi-line text such as a toast). Anything that is not a
 * string becomes its String first. The server plugin's toast uses it too.
 */
export function safeText(text, keepLines = false) {
  const s = typeof text === "string" ? text : String(text ?? "");
  return s.replace(UNSAFE, (c) => (keepLines && (c === "\n" || c === "\t") ? c : `\\u{${c.codePointAt(0).toString(16)}}`));
}

/** Log text with anything that looks like a credential taken out (an error may quote a header value). */
export function redact(text) {
  return String(text)
    .replace(/(bearer|basic|token)(\s+)\S+/gi, "$1$2[redacted]")
    .replace(/[A-Za-z0-9._~+=-]{24,}/g, "[redacted]");
}
