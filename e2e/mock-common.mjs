//! What the loopback API mocks of the continuity e2e share: arguments, the per-key script, the log, SSE and JSON answers, listening on 127.0.0.1.
//
// Used by e2e/mock-responses.mjs and e2e/mock-messages.mjs. No dependencies.

import { createServer } from "node:http";
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";

/** `--name value` from the command line, else `fallback`. */
export function arg(name, fallback) {
  const args = process.argv.slice(2);
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
}

/** Appends one JSON line (with the time) to `file`; nothing when no file was given. */
export function logTo(file) {
  return (entry) => file && appendFileSync(file, JSON.stringify({ ...entry, at: Date.now() }) + "\n");
}

/**
 * The script for a key's name, re-read on every request so the test can change it between turns:
 * a JSON file `{"<name>": {…}}` (a missing or unreadable file scripts nothing).
 */
export function scriptFor(file, name) {
  if (!file || !existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, "utf8"))[name] ?? {};
  } catch {
    return {};
  }
}

/** `test-key-<name>-FAKE` → `<name>`; anything else → null (answered 401). */
export function keyName(key) {
  const m = /^test-key-([a-z0-9-]+)-FAKE$/.exec(key ?? "");
  return m ? m[1] : null;
}

/** The bearer token of `authorization`, else the header itself. */
export function bearer(req) {
  const h = req.headers["authorization"];
  if (typeof h !== "string") return null;
  const m = /^Bearer\s+(.+)$/i.exec(h.trim());
  return m ? m[1] : h;
}

export const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");

export function json(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** A 200 `text/event-stream` of `[eventName, data]` pairs, each as `event:` + `data:` lines. */
export function sse(res, events) {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  for (const [event, data] of events) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  res.end();
}

/** The answer's words, each with its following space: the deltas of a stream. */
export const words = (text) => text.split(/(?<= )/);

/**
 * Serves `handle(req, res, body, url)` on 127.0.0.1 (a port the system picks), writes the port to
 * --port-file once it listens (atomically), and stops on SIGTERM/SIGINT.
 */
export function serve(handle) {
  const portFile = arg("--port-file");
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => handle(req, res, Buffer.concat(chunks), new URL(req.url, "http://127.0.0.1")));
  });
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address();
    if (!portFile) return process.stdout.write(`${port}\n`);
    writeFileSync(portFile + ".tmp", String(port));
    renameSync(portFile + ".tmp", portFile);
  });
  for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => server.close(() => process.exit(0)));
}
