#!/usr/bin/env node
// The plugin's per-request cost: a request through the plugin (chat.headers hook, the patched
// fetch, the answer read) against a bare fetch of the same request to a loopback mock, measured
// in pairs (the order alternating), for several builds in one run, interleaved in blocks so a
// noisy machine moves them all alike. Not a test (`node --test` skips it); run by hand:
//
//   node plugin/test/bench-request.mjs [--rounds N] [--profile DIR] LABEL=PLUGIN_JS:BINARY …
//   e.g. node plugin/test/bench-request.mjs --rounds 600 \
//          main=/work/main/plugin/index.js:/work/main/target/release/opencode-balancer \
//          branch=plugin/index.js:target/release/opencode-balancer
//
// Cases: a 2xx (one account answers 200) of a new session each time (no chat.message: what
// every request cost before openings were asked ahead); a turn as opencode runs it (per round a
// new session, its `chat.message`, outside the clock, then TURN_REQUESTS requests, each after a
// 2 ms pause outside the clock (opencode's own work, the stream, the tools) and paired with a
// bare fetch: "first request of a turn" and "later requests" reported apart); the 2xx with a
// multi-turn body (40 turns of user text, assistant tool calls and tool results, about 170 KB:
// a 2xx must not touch the body, so this should cost the same), of a new session each time and
// as every request of a turn; and a 429 failover (the active
// account answers 429 with Retry-After: 120, the next 200; reset between rounds, outside the
// clock), whose bare counterpart is the same two requests sent straight. Each build runs in its
// own node process (one plugin runtime per process) against its own temporary store, its
// sidecar watching an auth.json that holds a login, as a user's does.
// `--profile DIR` runs each worker under `node --cpu-prof --cpu-prof-dir=DIR`.

import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { createInterface } from "node:readline";

// `node --test` runs every .mjs under test/: nothing to do there.
if (process.env.NODE_TEST_CONTEXT) process.exit(0);

const OK_KEY = "bench-ok-FAKE";
const LIMITED_KEY = "bench-limited-FAKE";
const BODY = JSON.stringify({ model: "m1", stream: false, messages: [{ role: "user", content: "say hi" }] });
/** A conversation of 40 turns: user text, an assistant tool call, its result, the assistant's answer. */
const LONG_BODY = JSON.stringify({
  model: "m1",
  stream: false,
  messages: Array.from({ length: 40 }, (_, t) => [
    { role: "user", content: `turn ${t}: ${"please look at the file and tell me what it does. ".repeat(20)}` },
    {
      role: "assistant",
      content: null,
      tool_calls: [{ id: `call_${t}`, type: "function", function: { name: "read", arguments: JSON.stringify({ path: `src/file_${t}.rs` }) } }],
    },
    { role: "tool", tool_call_id: `call_${t}`, content: `//! file ${t}\n${"fn example() { let x = 1; }\n".repeat(80)}` },
    { role: "assistant", content: `It defines example() ${t}. ${"It is small. ".repeat(30)}` },
  ]).flat(),
});
/** The worker's cases; "turn" reports as "first" and "later". */
const CASES = ["ok", "turn", "long", "longturn", "failover"];
const REPORTED = ["ok", "first", "later", "long", "longturn", "failover"];
const TURN_REQUESTS = 4;
/** The pause before each request of a turn (outside the clock). */
const GAP_MS = 2;
const BLOCK = 20;

// ---------------------------------------------------------------------------
// the worker: one build's plugin in this process

async function worker(pluginPath, binary, base) {
  const dir = mkdtempSync(join(tmpdir(), "ocb-bench-request-"));
  const store = join(dir, "balancer.sqlite");
  Object.assign(process.env, {
    OPENCODE_CONFIG_DIR: dir,
    OPENCODE_BALANCER_STORE: store,
    XDG_CONFIG_HOME: join(dir, "config"),
    XDG_DATA_HOME: join(dir, "data"),
  });
  // As users run it: the sidecar watches an auth.json that holds a login (not one the cases use).
  mkdirSync(join(dir, "data", "opencode"), { recursive: true });
  writeFileSync(join(dir, "data", "opencode", "auth.json"), JSON.stringify({ other: { type: "api", key: "bench-other-FAKE" } }), { mode: 0o600 });
  const { rpcSession } = await import("./helpers.mjs");
  const rpc = rpcSession(binary, store);
  const save = (providerID, alias, key) => rpc.call("accounts.save", { providerID, alias, auth: { type: "api", key } });
  await save("bench", "alpha", OK_KEY);
  await save("fail", "two", OK_KEY);
  await save("fail", "one", LIMITED_KEY);
  await rpc.close();

  const bare = globalThis.fetch;
  const { server } = await import(pathToFileURL(resolve(pluginPath)).href);
  const client = { tui: { showToast: async () => ({}) }, auth: { set: async () => ({}) } };
  const hooks = await server({ client }, { binary, store, timeoutMs: 3000 });
  const runtime = globalThis[Symbol.for("opencode-balancer.plugin.runtime")];
  const url = `${base}/v1/chat/completions`;
  const init = (headers, key, body) => ({
    method: "POST",
    headers: { ...headers, authorization: `Bearer ${key}`, "content-type": "application/json" },
    body,
  });
  const input = (providerID, i) => ({
    sessionID: `ses_bench_${providerID}_${i}`,
    model: { id: "m1", providerID, api: { id: "m1", npm: "@ai-sdk/openai-compatible" } },
    provider: { id: providerID },
  });
  const viaPlugin = async (providerID, i, body = BODY, session = undefined) => {
    const output = { headers: {} };
    const hookInput = input(providerID, i);
    if (session) hookInput.sessionID = session;
    await hooks["chat.headers"](hookInput, output);
    const res = await globalThis.fetch(url, init(output.headers, "opencode-own-key", body));
    await res.text();
    if (res.status !== 200) throw new Error(`through the plugin: ${res.status}`);
  };
  const straight = async (keys, body = BODY) => {
    for (const key of keys) await (await bare(url, init({}, key, body))).text();
  };
  const timed = async (f) => {
    const t = process.hrtime.bigint();
    await f();
    return Number(process.hrtime.bigint() - t) / 1000;
  };
  const cases = {
    ok: { plugin: (i) => viaPlugin("bench", i), bare: () => straight([OK_KEY]) },
    long: { plugin: (i) => viaPlugin("bench", i, LONG_BODY), bare: () => straight([OK_KEY], LONG_BODY) },
    failover: {
      plugin: (i) => viaPlugin("fail", i),
      bare: () => straight([LIMITED_KEY, OK_KEY]),
      reset: async () => {
        await runtime.call("accounts.resetCooldown", { providerID: "fail", alias: "one" });
        await runtime.call("accounts.activate", { providerID: "fail", alias: "one" });
      },
    },
  };
  const turnMessage = (i) =>
    hooks["chat.message"]({ sessionID: `ses_turn_${i}`, model: { providerID: "bench", modelID: "m1" } }, { message: {}, parts: [] });
  const paired = async (n, c, into) => {
    if (n % 2 === 0) {
      into.bare.push(await timed(() => c.bare()));
      into.plugin.push(await timed(() => c.plugin(n)));
    } else {
      into.plugin.push(await timed(() => c.plugin(n)));
      into.bare.push(await timed(() => c.bare()));
    }
  };
  let n = 0;
  const lines = createInterface({ input: process.stdin });
  process.stdout.write(JSON.stringify({ ready: true }) + "\n");
  for await (const line of lines) {
    const cmd = JSON.parse(line);
    if (cmd.stop) break;
    if (cmd.case === "turn" || cmd.case === "longturn") {
      const long = cmd.case === "longturn";
      const body = long ? LONG_BODY : BODY;
      const out = long
        ? { longturn: { plugin: [], bare: [] } }
        : { first: { plugin: [], bare: [] }, later: { plugin: [], bare: [] } };
      for (let k = 0; k < cmd.rounds; k++) {
        n += 1;
        const turn = n;
        await turnMessage(turn);
        const c = {
          plugin: () => viaPlugin("bench", turn, body, `ses_turn_${turn}`),
          bare: () => straight([OK_KEY], body),
        };
        for (let r = 0; r < TURN_REQUESTS; r++) {
          // opencode builds the request, then streams the answer and runs tools between two
          // requests: a pause outside the clock, the same for every build.
          await new Promise((ok) => setTimeout(ok, GAP_MS));
          await paired(n + r, c, long ? out.longturn : r === 0 ? out.first : out.later);
        }
      }
      process.stdout.write(JSON.stringify(out) + "\n");
      continue;
    }
    const c = cases[cmd.case];
    const out = { plugin: [], bare: [] };
    for (let k = 0; k < cmd.rounds; k++) {
      n += 1;
      if (c.reset) await c.reset();
      await paired(n, c, out);
    }
    process.stdout.write(JSON.stringify({ [cmd.case]: out }) + "\n");
  }
  await hooks.dispose();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

// ---------------------------------------------------------------------------
// the coordinator: the mock provider and the interleaving

function mockProvider() {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const key = String(req.headers.authorization ?? "").replace(/^Bearer\s+/i, "");
      if (key === LIMITED_KEY) {
        res.writeHead(429, { "content-type": "application/json", "retry-after": "120", "x-ratelimit-remaining-requests": "0" });
        res.end('{"error":{"message":"Rate limit reached","type":"requests"}}');
        return;
      }
      res.writeHead(200, {
        "content-type": "application/json",
        "x-ratelimit-limit-requests": "100",
        "x-ratelimit-remaining-requests": "99",
        "x-ratelimit-reset-requests": "6m0s",
      });
      res.end('{"choices":[{"message":{"role":"assistant","content":"hi"}}]}');
    });
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(server)));
}

function startWorker(label, pluginPath, binary, base, profile) {
  const nodeArgs = profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`, `--cpu-prof-name=${label}.cpuprofile`] : [];
  const child = spawn(process.execPath, [...nodeArgs, new URL(import.meta.url).pathname, "--worker", pluginPath, binary, base], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`${label}: the worker ended`);
    return JSON.parse(value);
  };
  return {
    label,
    ready: next(),
    async run(kase, rounds) {
      child.stdin.write(JSON.stringify({ case: kase, rounds }) + "\n");
      return next();
    },
    stop() {
      child.stdin.write(JSON.stringify({ stop: true }) + "\n");
      return new Promise((ok) => child.on("exit", ok));
    },
  };
}

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function coordinate(args) {
  let rounds = 400;
  let profile = null;
  const builds = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--rounds") rounds = Number(args[++i]);
    else if (args[i] === "--profile") profile = resolve(args[++i]);
    else {
      const [label, rest] = args[i].split(/=(.*)/s);
      const [pluginPath, binary] = rest.split(":");
      builds.push({ label, pluginPath, binary });
    }
  }
  if (builds.length === 0) throw new Error("usage: bench-request.mjs [--rounds N] LABEL=PLUGIN_JS:BINARY …");
  const mock = await mockProvider();
  const base = `http://127.0.0.1:${mock.address().port}`;
  const workers = builds.map((b) => startWorker(b.label, b.pluginPath, b.binary, base, profile));
  for (const w of workers) await w.ready;
  const results = new Map(workers.map((w) => [w.label, Object.fromEntries(REPORTED.map((c) => [c, { plugin: [], bare: [] }]))]));
  // Warm-up (JIT, connections, the sidecar's first answers): not counted.
  for (const w of workers) for (const kase of CASES) await w.run(kase, BLOCK);
  for (const kase of CASES) {
    for (let done = 0, b = 0; done < rounds; done += BLOCK, b++) {
      const order = b % 2 === 0 ? workers : [...workers].reverse();
      for (const w of order) {
        const r = await w.run(kase, Math.min(BLOCK, rounds - done));
        for (const [part, got] of Object.entries(r)) {
          const into = results.get(w.label)[part];
          into.plugin.push(...got.plugin);
          into.bare.push(...got.bare);
        }
      }
    }
  }
  for (const w of workers) await w.stop();
  mock.close();
  const us = (v) => `${v.toFixed(0)} µs`;
  const load = (await import("node:os")).loadavg().map((x) => x.toFixed(2)).join(" ");
  console.log(`${rounds} rounds per case and build (a turn: ${TURN_REQUESTS} requests), blocks of ${BLOCK} interleaved; node ${process.version}; load average at the end ${load}`);
  console.log("| build | case | bare fetch median | through the plugin median | overhead median (paired) | p90 | p99 |");
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  for (const [label, r] of results) {
    for (const kase of REPORTED) {
      const { plugin, bare } = r[kase];
      const diff = plugin.map((p, i) => p - bare[i]).sort((a, b) => a - b);
      const med = (xs) => quantile([...xs].sort((a, b) => a - b), 0.5);
      const name = {
        ok: "2xx, a new session each request",
        first: "2xx, first request of a turn",
        later: "2xx, later requests of a turn",
        long: "2xx, 40-turn body, a new session each request",
        longturn: "2xx, 40-turn body, every request of a turn",
        failover: "429 → failover 200",
      }[kase];
      console.log(
        `| ${label} | ${name} | ${us(med(bare))} | ${us(med(plugin))} | +${us(quantile(diff, 0.5))} | +${us(quantile(diff, 0.9))} | +${us(quantile(diff, 0.99))} |`,
      );
    }
  }
}

const argv = process.argv.slice(2);
if (argv[0] === "--worker") await worker(argv[1], argv[2], argv[3]);
else await coordinate(argv);
