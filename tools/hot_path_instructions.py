#!/usr/bin/env python3
"""Instructions per hot-path round of `opencode-balancer serve`, counted by callgrind.

Wall-clock numbers on a shared 2-core machine swing by whole factors; callgrind's instruction
counts do not (the same binary and input give the same count whatever else runs). This drives
one or more serve binaries over pipes with exactly what `bench` sends, under
`valgrind --tool=callgrind`, at two round counts, and reports the difference divided by the
extra rounds: the cost of one round, start-up and seeding taken out.

    python3 tools/hot_path_instructions.py --binary OLD --binary NEW [--accounts 10] [--rounds 100,300]

A round is what the plugin sends for one model request (docs/protocol.md, "One round trip per
answered request"): either a request that succeeds (`chat.headers` with the expected `fetch`
shape, answered with `begin`, then `fetch.result` 200 as a notification) or a 429 failover
(`chat.headers` → `begin`, `fetch.result` 429 with `sent`, answered `retry`, `fetch.result` 200
as a notification, then `test.advanceClock` outside the request). A build whose `chat.headers`
gives no `begin` is asked `fetch.begin`, as the plugin does, so older builds can be compared;
`--sequence four` drives the old four awaited calls (`chat.message`, `chat.headers`,
`fetch.begin`, `fetch.result` 200). Notifications are not answered: the count is of the whole
process, which reads every line before it exits. Fake keys only.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile


class Serve:
    """A serve process and a JSON-RPC client over its pipes."""

    def __init__(self, argv, env):
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
        )
        self.next_id = 0

    def call(self, method, params=None):
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            msg["params"] = params
        self.proc.stdin.write((json.dumps(msg) + "\n").encode())
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                sys.exit(f"serve ended while waiting for {method}")
            answer = json.loads(line)
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    sys.exit(f"{method}: {answer['error']}")
                return answer["result"]

    def notify(self, method, params):
        """A JSON-RPC notification: written, nothing awaited (serve runs it and answers nothing)."""
        msg = {"jsonrpc": "2.0", "method": method, "params": params}
        self.proc.stdin.write((json.dumps(msg) + "\n").encode())
        self.proc.stdin.flush()

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=600)


def env_for(store_dir):
    env = dict(os.environ)
    env.update(
        OPENCODE_BALANCER_TEST_CLOCK="1700000000000",
        OPENCODE_BALANCER_NO_WATCH="1",
        HOME=store_dir,
        XDG_DATA_HOME=os.path.join(store_dir, "data"),
    )
    env.pop("OPENCODE_BALANCER_LOG", None)
    return env


def seed(binary, store, accounts):
    s = Serve([binary, "--store", store, "serve"], env_for(os.path.dirname(store)))
    for i in reversed(range(accounts)):
        s.call(
            "accounts.save",
            {"providerID": "mock", "alias": f"acct-{i:05}", "auth": {"type": "api", "key": f"bench-key-{i:05}-FAKE"}},
        )
    s.close()


SHAPE = {"headerNames": ["authorization", "content-type"], "authorization": "bearer"}


def open_request(s, session):
    """`chat.headers` with the expected shape; `fetch.begin` only when no `begin` came with it."""
    r = s.call("chat.headers", {"sessionID": session, "providerID": "mock", "modelID": "m1", "fetch": SHAPE})
    rid = r["requestID"]
    if "begin" in r:
        return rid, {"url": "", **SHAPE}
    s.call("fetch.begin", {"requestID": rid, "url": "", **SHAPE})
    return rid, None


def ok_round(s, i):
    rid, _ = open_request(s, f"s{i % 50}")
    s.notify("fetch.result", {"requestID": rid, "attempt": 1, "status": 200, "headers": {}})


def failover_round(s, _i):
    rid, sent = open_request(s, "f")
    refused = {"requestID": rid, "attempt": 1, "status": 429, "headers": {"retry-after": "1"}}
    if sent is not None:
        refused["sent"] = sent
    r = s.call("fetch.result", refused)
    if r.get("action") != "retry":
        sys.exit(f"no failover: {r}")
    s.notify("fetch.result", {"requestID": rid, "attempt": 2, "status": 200, "headers": {}})
    s.call("test.advanceClock", {"ms": 2000})


def four_call_round(s, i):
    """The sequence before issue 28: four awaited calls for a request answered 200."""
    session = f"s{i % 50}"
    s.call("chat.message", {"sessionID": session, "model": {"providerID": "mock", "modelID": "m1"}})
    rid = s.call("chat.headers", {"sessionID": session, "providerID": "mock", "modelID": "m1"})["requestID"]
    s.call("fetch.begin", {"requestID": rid, "url": "", **SHAPE})
    s.call("fetch.result", {"requestID": rid, "attempt": 1, "status": 200, "headers": {}})


def instructions(binary, seeded, rounds, kind):
    """Callgrind's instruction total of one serve process doing `rounds` rounds of `kind`."""
    with tempfile.TemporaryDirectory() as work:
        for name in os.listdir(os.path.dirname(seeded)):
            if name.startswith("balancer.sqlite"):
                shutil.copy(os.path.join(os.path.dirname(seeded), name), work)
        out = os.path.join(work, "callgrind.out")
        argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binary, "--store", os.path.join(work, "balancer.sqlite"), "serve"]
        s = Serve(argv, env_for(work))
        s.call("status")
        for i in range(rounds):
            kind(s, i)
        s.close()
        with open(out) as f:
            for line in f:
                m = re.match(r"(?:summary|totals): (\d+)", line)
                if m:
                    return int(m.group(1))
    sys.exit("callgrind wrote no total")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", action="append", required=True)
    ap.add_argument("--accounts", type=int, default=10)
    ap.add_argument("--rounds", default="100,300")
    ap.add_argument("--sequence", choices=["one", "four"], default="one", help="the 2xx round: one round trip (default) or the old four calls")
    a = ap.parse_args()
    low, high = (int(n) for n in a.rounds.split(","))
    print(f"Instructions per round (callgrind; {a.accounts} accounts; ({high} rounds − {low} rounds) / {high - low})\n")
    print(f"| binary | request 200 ({a.sequence} round trip{'' if a.sequence == 'one' else 's'}) | 429 failover |")
    print("|---|---:|---:|")
    for binary in a.binary:
        with tempfile.TemporaryDirectory() as seeds:
            seeded = os.path.join(seeds, "balancer.sqlite")
            seed(binary, seeded, a.accounts)
            cells = []
            for kind in (ok_round if a.sequence == "one" else four_call_round, failover_round):
                per = (instructions(binary, seeded, high, kind) - instructions(binary, seeded, low, kind)) / (high - low)
                cells.append(f"{per:,.0f}")
            print(f"| {binary} | {cells[0]} | {cells[1]} |", flush=True)


if __name__ == "__main__":
    main()
