#!/usr/bin/env node
// A fake `opencode-balancer serve` for the plugin's tests: NDJSON JSON-RPC 2.0
// on stdio, configured by the JSON file named in FAKE_SIDECAR_CONFIG:
//
//   mode        "normal" (default): scripted answers, like the real sidecar;
//               "crash": exit 3 when `on` arrives (any method without `on`);
//               "hang": never answer `on` (anything without `on`);
//               "garbage": answer `on` (anything) with a line that is not JSON;
//               "bad-result": answer `on` (anything) with a well-formed
//               response whose result has the wrong shape;
//               "exit-on-start": exit 3 at once.
//   on          the method that triggers the mode's behaviour
//   onceFile    when set, the behaviour happens only while this file does not
//               exist, and creates it (so a restarted fake behaves normally)
//   log         file: every received message is appended as one JSON line,
//               and {"started":pid,"id":…} at start
//   id          a name for this fake, reported in command.run output and logs
//   accounts    {providerID: ["key-a", "key-b"]} — saved accounts (normal mode)
//   retryStatuses  statuses answered with "retry" while accounts remain
//   delays      {method: ms} — answer after a delay (responses out of order)
//   results     {method: result} — a fixed result instead of the built-in one
//   sequence    {method: [result, …]} — results in turn, the last one repeated
//   syncAuth    {providerID, auth} — sent with chat.headers results
//   removeHeaders {begin?: [S], retry?: [S]} — sent with fetch.begin / fetch.result retry answers
//   notifyOnInit  [{method, params}] — notifications sent after initialize
//   notifyAfter   {method: [{method, params}]} — notifications sent after each answer to method
//   prepareBegin  answer chat.headers that carries `fetch` (the expected request) with `begin`,
//               fetch.begin's answer for it, as the real sidecar does (off: an older sidecar)
//   credentials {providerID: ["cred_a", "cred_b"]} — opencode2 accounts (V2's credentials): answers carry
//               `credential: {id, provider}` and no secret headers, in turn like `accounts`
//   stderr      text written to stderr at start (a log line)
//   startDelayMs  read nothing for this long after start (a slow start)

import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";

// `node --test` also runs every .mjs under test/: nothing to do without a config.
if (!process.env.FAKE_SIDECAR_CONFIG && process.env.NODE_TEST_CONTEXT) process.exit(0);

const config = process.env.FAKE_SIDECAR_CONFIG
  ? JSON.parse(readFileSync(process.env.FAKE_SIDECAR_CONFIG, "utf8"))
  : {};
const id = config.id ?? process.env.FAKE_SIDECAR_ID ?? "fake";
const mode = config.mode ?? "normal";
const accounts = config.accounts ?? {};
const retryStatuses = config.retryStatuses ?? [402, 403, 429, 500, 502, 503, 504, 529];
const requests = new Map(); // requestID → {providerID, index}
let nextRequest = 1;

function log(entry) {
  if (config.log) appendFileSync(config.log, JSON.stringify(entry) + "\n");
}

function send(message) {
  process.stdout.write(JSON.stringify(message) + "\n");
}

function triggered(method) {
  if (config.on && config.on !== method) return false;
  if (config.onceFile) {
    if (existsSync(config.onceFile)) return false;
    writeFileSync(config.onceFile, String(process.pid));
  }
  return true;
}

const KEY_HEADERS = ["x-api-key", "api-key", "x-goog-api-key", "anthropic-api-key"];

/** The keys of a provider (`accounts`) or its V2 credential ids (`credentials`), and which it is. */
function keysOf(providerID) {
  const creds = config.credentials?.[providerID];
  if (Array.isArray(creds) && creds.length > 0) return { keys: creds, v2: true };
  return { keys: accounts[providerID], v2: false };
}

/** What an answer on account `index` of a request carries: headers, or for an opencode2 account its credential. */
function onAccount(providerID, names, index) {
  const { keys, v2 } = keysOf(providerID);
  if (v2) return { setHeaders: {}, credential: { id: keys[index], provider: providerID } };
  return { setHeaders: headersFor(names, keys[index]) };
}

function headersFor(names, key) {
  for (const h of KEY_HEADERS) {
    if (names.includes(h)) return { [h]: key };
  }
  return { authorization: `Bearer ${key}` };
}

const turns = {};

function answer(method, params) {
  const seq = config.sequence?.[method];
  if (Array.isArray(seq) && seq.length > 0) {
    const i = Math.min(turns[method] ?? 0, seq.length - 1);
    turns[method] = i + 1;
    return seq[i];
  }
  if (config.results && method in config.results) return config.results[method];
  switch (method) {
    case "initialize":
      return { server: { name: "fake-sidecar", version: "0.0.0" }, protocolVersion: 1 };
    case "shutdown":
      return {};
    case "chat.message":
      return {};
    case "chat.headers": {
      const { keys } = keysOf(params?.providerID);
      if (!keys || keys.length === 0) return {};
      const requestID = `req-${process.pid}-${nextRequest++}`;
      requests.set(requestID, { providerID: params.providerID, index: 0, headerNames: [] });
      const result = { requestID };
      if (config.syncAuth) result.syncAuth = config.syncAuth;
      if (config.prepareBegin && params.fetch) {
        const names = params.fetch.headerNames ?? [];
        requests.get(requestID).headerNames = names;
        result.begin = {
          account: { providerID: params.providerID, alias: "account-0" },
          ...onAccount(params.providerID, names, 0),
          watch: ["authorization", ...KEY_HEADERS],
        };
      }
      return result;
    }
    case "fetch.begin": {
      const r = requests.get(params?.requestID);
      if (!r) throw { code: -32006, message: "unknown request id" };
      r.headerNames = params.headerNames ?? [];
      return {
        account: { providerID: r.providerID, alias: `account-${r.index}` },
        ...onAccount(r.providerID, r.headerNames, r.index),
        ...(config.removeHeaders?.begin ? { removeHeaders: config.removeHeaders.begin } : {}),
      };
    }
    case "fetch.result": {
      const r = requests.get(params?.requestID);
      if (!r) throw { code: -32006, message: "unknown request id" };
      const { keys } = keysOf(r.providerID);
      if (retryStatuses.includes(params.status) && r.index + 1 < keys.length) {
        r.index += 1;
        return {
          action: "retry",
          account: { providerID: r.providerID, alias: `account-${r.index}` },
          ...onAccount(r.providerID, r.headerNames, r.index),
          ...(config.removeHeaders?.retry ? { removeHeaders: config.removeHeaders.retry } : {}),
        };
      }
      return { action: "return" };
    }
    case "fetch.stream": {
      // An error event counts as a 429 (the real sidecar reads its kind); anything else is forwarded.
      const error = (params?.events ?? []).some((e) => e.event === "error" || /"type"\s*:\s*"error"/.test(e.data ?? ""));
      if (!error) return { action: "forward" };
      return answer("fetch.result", { ...params, status: 429 });
    }
    case "command.run":
      return { output: `${id}: ${params?.text ?? ""}\nmock/alpha\nmock/bravo` };
    case "status":
      return { version: "0.0.0", balancing: false, accounts: 0, pending: 0, providers: [], storePath: id };
    default:
      throw { code: -32601, message: `method not found: ${method}` };
  }
}

function badResult(method) {
  switch (method) {
    case "chat.headers":
      return { requestID: 42 };
    case "fetch.begin":
      return { setHeaders: "Bearer nope" };
    case "fetch.result":
      return { action: "explode" };
    case "command.run":
      return { output: 7 };
    default:
      return "banana";
  }
}

function handle(message) {
  log(message);
  const { method, params } = message;
  const isRequest = message.id !== undefined && message.id !== null;
  if (mode === "crash" && triggered(method)) process.exit(3);
  if (mode === "hang" && triggered(method)) return;
  if (mode === "garbage" && triggered(method)) {
    process.stdout.write("this is not json {{{\n");
    return;
  }
  if (!isRequest) return;
  const reply = () => {
    if (mode === "bad-result" && triggered(method)) {
      send({ jsonrpc: "2.0", id: message.id, result: badResult(method) });
      return;
    }
    // Notifications after an answer go in the same write: the host reads them together.
    const after = (config.notifyAfter?.[method] ?? []).map((n) => JSON.stringify({ jsonrpc: "2.0", ...n }) + "\n").join("");
    try {
      process.stdout.write(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: answer(method, params) }) + "\n" + after);
    } catch (e) {
      send({ jsonrpc: "2.0", id: message.id, error: { code: e.code ?? -32603, message: e.message ?? String(e) } });
    }
    if (method === "initialize") for (const n of config.notifyOnInit ?? []) send({ jsonrpc: "2.0", ...n });
    if (method === "shutdown") setTimeout(() => process.exit(0), 10);
  };
  const delay = config.delays?.[method];
  if (delay) setTimeout(reply, delay);
  else reply();
}

log({ started: process.pid, at: Date.now(), id, argv: process.argv.slice(2) });
if (config.stderr) process.stderr.write(config.stderr + "\n");
if (mode === "exit-on-start") process.exit(3);

let buffer = "";
if (config.startDelayMs) {
  process.stdin.pause();
  await new Promise((resolve) => setTimeout(resolve, config.startDelayMs));
}
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  buffer += chunk;
  let nl;
  while ((nl = buffer.indexOf("\n")) >= 0) {
    const line = buffer.slice(0, nl);
    buffer = buffer.slice(nl + 1);
    if (!line.trim()) continue;
    let message;
    try {
      message = JSON.parse(line);
    } catch {
      send({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "parse error" } });
      continue;
    }
    handle(message);
  }
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
