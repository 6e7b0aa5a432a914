// The TUI dashboard's view logic (tui/view.js) without opencode: rows, states, countdowns, bars,
// keys and the sidebar line.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as V from "../view.js";

const NOW = 1_700_000_000_000;
const acc = (over) => ({
  providerID: "openai",
  alias: "a",
  authType: "api",
  active: false,
  disabled: false,
  coolingDownUntil: null,
  failures: 0,
  lastUsedAt: null,
  createdAt: NOW - 1000,
  usage: null,
  ...over,
});

test("durations read as countdowns", () => {
  assert.equal(V.duration(12_400), "12s");
  assert.equal(V.duration(4 * 60_000 + 12_000), "4m 12s");
  assert.equal(V.duration(2 * 3_600_000 + 5 * 60_000), "2h 05m");
  assert.equal(V.duration(3 * 86_400_000 + 4 * 3_600_000), "3d 4h");
  assert.equal(V.duration(-5), "0s");
  assert.equal(V.ago(null, NOW), "never");
  assert.equal(V.ago(NOW - 1000, NOW), "just now");
  assert.equal(V.ago(NOW - 90_000, NOW), "1m 30s ago");
});

test("bars fill by percentage and clamp", () => {
  assert.equal(V.bar(0, 4), "░░░░");
  assert.equal(V.bar(50, 4), "██░░");
  assert.equal(V.bar(150, 4), "████");
  assert.equal(V.bar("x", 4), "░░░░");
  assert.equal(V.usageColor(95), "error");
  assert.equal(V.usageColor(75), "warning");
  assert.equal(V.usageColor(10), "success");
});

test("an account's state: disabled, needs login, cooling down with its reason and a live countdown, active, healthy", () => {
  assert.equal(V.accountState(acc({ disabled: true, active: true }), NOW).key, "disabled");
  assert.equal(V.accountState(acc({ authFailed: true }), NOW).key, "login");
  assert.equal(V.accountState(acc({ loginRequired: true }), NOW).label, "needs login (auth failed)");
  const c = acc({ coolingDownUntil: NOW + 65_000, cooldownReason: "rate_limit" });
  assert.equal(V.accountState(c, NOW).label, "cooling down 1m 05s (rate limited)");
  assert.equal(V.accountState(c, NOW + 5_000).label, "cooling down 1m 00s (rate limited)");
  assert.equal(V.accountState(c, NOW + 65_000).key, "healthy", "a cooldown ends by itself");
  assert.equal(V.accountState(acc({ active: true }), NOW).key, "active");
  assert.equal(V.accountState(acc({ authType: "oauth", tokenExpiresAt: NOW - 1 }), NOW).label, "token expired");
});

test("accounts are grouped by provider with usage bars and the time to reset", () => {
  const accounts = [
    acc({ providerID: "openai", alias: "work", active: true, lastUsedAt: NOW - 120_000,
      usage: { confidence: "exact", windows: [{ name: "5h", usedPercent: 40, resetAt: NOW + 3_600_000 }, { name: "7d", usedPercent: 95 }] } }),
    acc({ providerID: "anthropic", alias: "me", coolingDownUntil: NOW + 30_000, cooldownReason: "quota" }),
    acc({ providerID: "openai", alias: "home" }),
  ];
  const lines = V.accountLines(accounts, 1, NOW);
  const text = lines.map((l) => l.text);
  assert.equal(text[0], "anthropic");
  assert.match(text[1], /^  ○ me .*cooling down 30s \(quota used up\).*used never/);
  assert.equal(text[2], "openai");
  assert.match(text[3], /^› ○ home/, "the selection is the second account in display order");
  assert.equal(lines[3].color, "accent");
  assert.match(text[4], /^  ● work .*active .*used 2m 00s ago/);
  assert.equal(text[5], "      5h     ████░░░░░░  40%  resets in 1h 00m");
  assert.equal(lines[6].color, "error");
  assert.deepEqual(V.accountOrder(accounts).map((a) => a.alias), ["me", "home", "work"]);
  assert.match(V.accountLines([], 0, NOW)[0].text, /Press C/);
});

test("an unavailable usage reading says why", () => {
  const l = V.usageLines({ confidence: "unavailable", message: "no usage endpoint for this provider" }, NOW);
  assert.deepEqual(l, [{ text: "      usage: no usage endpoint for this provider", color: "textMuted" }]);
});

test("the priority matrix shows balancing, failover, order, enabled and model", () => {
  const lines = V.priorityLines(
    [
      { providerID: "openai", position: 0, modelID: "gpt-5", enabled: true },
      { providerID: "anthropic", position: 1, modelID: null, enabled: false },
    ],
    { balancing: true, failover: false },
    1,
  );
  assert.equal(lines[0].text, "Balancing ON   Failover off");
  assert.match(lines[1].text, /^   1\. \[x\] openai\s+gpt-5$/);
  assert.match(lines[2].text, /^›  2\. \[ \] anthropic\s+\(no model: Enter picks one\)$/);
});

test("keys map to actions per screen", () => {
  const k = (name, more = {}) => ({ name, ...more });
  assert.equal(V.keyAction("accounts", k("return")), "activate");
  assert.equal(V.keyAction("accounts", k("r")), "rename");
  assert.equal(V.keyAction("accounts", k("d")), "remove");
  assert.equal(V.keyAction("accounts", k("e")), "toggleDisabled");
  assert.equal(V.keyAction("accounts", k("x")), "resetCooldown");
  assert.equal(V.keyAction("accounts", k("u")), "refreshUsage");
  assert.equal(V.keyAction("accounts", k("c")), "connect");
  assert.equal(V.keyAction("accounts", k("tab")), "screen:priority");
  assert.equal(V.keyAction("priority", k("tab")), "screen:accounts");
  assert.equal(V.keyAction("priority", k("up", { shift: true })), "moveUp");
  assert.equal(V.keyAction("priority", k("down", { shift: true })), "moveDown");
  assert.equal(V.keyAction("accounts", k("up", { shift: true })), "up");
  assert.equal(V.keyAction("priority", k("space")), "toggleEnabled");
  assert.equal(V.keyAction("priority", k("return")), "pickModel");
  assert.equal(V.keyAction("priority", k("b")), "toggleBalancing");
  assert.equal(V.keyAction("priority", k("f")), "toggleFailover");
  assert.equal(V.keyAction("pending", k("return")), "savePending");
  assert.equal(V.keyAction("accounts", k("escape")), "close");
  assert.equal(V.keyAction("accounts", k("b", { ctrl: true })), null, "Ctrl+B is opencode's layer's, not a dashboard key");
  assert.equal(V.keyAction("accounts", k("z")), null);
  assert.equal(V.moveSel(0, -1, 3), 0);
  assert.equal(V.moveSel(2, 1, 3), 2);
  assert.equal(V.moveSel(5, 0, 0), 0);
});

test("the sidebar line: the session's provider's active account, quota left and a cooldown; nothing to say is null", () => {
  const accounts = [
    acc({ alias: "work", active: true, usage: { windows: [{ name: "5h", usedPercent: 30 }, { name: "7d", usedPercent: 60 }] } }),
    acc({ alias: "home" }),
    acc({ providerID: "anthropic", alias: "me", active: true, coolingDownUntil: NOW + 10_000, cooldownReason: "rate_limit" }),
  ];
  assert.deepEqual(V.sidebarLine(accounts, "openai", NOW), { text: "Balancer openai/work · 40% left", color: "textMuted" });
  assert.deepEqual(V.sidebarLine(accounts, "anthropic", NOW), {
    text: "Balancer anthropic/me · cooling down 10s (rate limited)",
    color: "warning",
  });
  assert.equal(V.sidebarLine(accounts, "mock", NOW), null);
  assert.equal(V.sidebarLine(accounts, null, NOW), null);
  const messages = [{ role: "user", model: { providerID: "anthropic" } }, { role: "assistant", providerID: "openai" }];
  assert.equal(V.sessionProvider(messages, accounts), "openai");
  assert.equal(V.sessionProvider([], [accounts[0]]), "openai", "no message yet: the only provider with accounts");
  assert.equal(V.sessionProvider([], accounts), null);
});

test("a provider is exhausted when every enabled account cools down or needs a login", () => {
  const accounts = [
    acc({ alias: "a", coolingDownUntil: NOW + 1000 }),
    acc({ alias: "b", authFailed: true }),
    acc({ alias: "c", disabled: true }),
    acc({ providerID: "anthropic", alias: "x", coolingDownUntil: NOW + 1000 }),
    acc({ providerID: "anthropic", alias: "y" }),
  ];
  assert.deepEqual(V.exhaustedProviders(accounts, NOW), ["openai"]);
  assert.deepEqual(V.exhaustedProviders(accounts, NOW + 2000), [], "a's cooldown has ended");
});

test("the title names the screen and a missing sidecar", () => {
  assert.match(V.titleLine("priority", { state: "ready" }).text, /\[priority\]/);
  const down = V.titleLine("accounts", { state: "down", reason: "the opencode-balancer binary was not found" });
  assert.match(down.text, /sidecar unavailable: the opencode-balancer binary was not found/);
  assert.equal(down.color, "error");
});

// Retitle (OSC 0 … BEL), clear (CSI 2J, 7-bit and C1), reverse (U+202E), isolate, DEL, a newline.
const HOSTILE = "Pro\u001b]0;pwned\u0007\u001b[2J\u009b2J\u202etxt\u2066\u007f\nX";
const RAW = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

test("safeText escapes every control and bidi character visibly and leaves other text alone", () => {
  assert.equal(
    V.safeText(HOSTILE),
    "Pro\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{9b}2J\\u{202e}txt\\u{2066}\\u{7f}\\u{a}X",
  );
  assert.equal(V.safeText("a\u200fb\u061cc\u2028d\u202ae"), "a\\u{200f}b\\u{61c}c\\u{2028}d\\u{202a}e");
  assert.equal(V.safeText("a\nb\tc\rd", true), "a\nb\tc\\u{d}d");
  for (const fine of ["claude-sonnet-4.5", "Max 20× · 42% used", "日本語 ✓ 😀", ""]) assert.equal(V.safeText(fine), fine);
  assert.equal(V.safeText(undefined), "");
  assert.equal(V.safeText(42), "42");
});

test("every view function shows outside text escaped, never raw", () => {
  const usage = { planName: HOSTILE, usedPercent: 40, confidence: "exact", message: HOSTILE, error: HOSTILE };
  const noNumber = { confidence: "unavailable", message: HOSTILE };
  const accounts = [
    acc({ providerID: HOSTILE, alias: HOSTILE, active: true, usage }),
    acc({ alias: "b", usage: noNumber }),
    acc({ alias: "c", usage: { windows: [{ name: HOSTILE, usedPercent: 10, resetAt: null }], error: HOSTILE } }),
  ];
  const lines = [
    ...V.accountLines(accounts, 0, NOW),
    ...V.priorityLines([{ providerID: HOSTILE, modelID: HOSTILE, enabled: true }], { balancing: true }, 0),
    ...V.eventLines([{ type: HOSTILE, message: HOSTILE, createdAt: NOW }], NOW),
    ...V.pendingLines([{ providerID: HOSTILE, authType: HOSTILE, capturedAt: NOW }], 0, NOW),
    V.sidebarLine(accounts, HOSTILE, NOW),
    V.titleLine("accounts", { state: "down", reason: HOSTILE }),
  ];
  for (const l of lines) assert.doesNotMatch(l.text, RAW, JSON.stringify(l.text));
  const all = lines.map((l) => l.text).join("\n");
  assert.ok(all.includes("Pro\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{9b}2J\\u{202e}txt"), all);
  assert.ok(V.eventLines([{ type: "t", message: HOSTILE, createdAt: NOW }], NOW)[0].text.endsWith("\\u{a}X"));
});

test("every account of a provider resting reads as a move, not a failure, when the turn went to another provider", () => {
  const switched = { type: "provider_switched", createdAt: NOW - 2000, metadata: { from: "mock", to: "backup", model: "b-model" } };
  assert.deepEqual(V.restingMessage("mock", [switched], NOW), { text: "mock has no account left; turns moved to backup/b-model.", variant: "info" });
  for (const events of [[], undefined, [{ ...switched, createdAt: NOW - 120_000 }], [{ ...switched, metadata: { from: "other", to: "backup" } }]]) {
    const m = V.restingMessage("mock", events, NOW);
    assert.equal(m.variant, "warning");
    assert.match(m.text, /^Every account of mock is cooling down or needs a login\.$/);
  }
});

test("the sidebar names the account the session is on, not the provider's active one", () => {
  const accounts = [
    acc({ providerID: "mock", alias: "alpha", active: true }),
    acc({ providerID: "mock", alias: "bravo", usage: { usedPercent: 25 } }),
    acc({ providerID: "backup", alias: "b1" }),
  ];
  const session = V.sessionView({ providerID: "mock", modelID: "m1", alias: "bravo" });
  assert.equal(V.sidebarLine(accounts, "mock", NOW, session).text, "Balancer mock/bravo · 75% left");
  // Without the session's binding: the provider's active account, as before.
  assert.equal(V.sidebarLine(accounts, "mock", NOW, null).text, "Balancer mock/alpha");
  // A session moved to another provider (the messages still name the old one).
  const moved = V.sessionView({ providerID: "backup", modelID: "x", alias: "b1", movedTo: "backup/x" });
  assert.equal(V.sidebarLine(accounts, "mock", NOW, moved).text, "Balancer backup/b1");
  // Known provider, no request yet (no alias): that provider's active account.
  assert.equal(V.sidebarLine(accounts, null, NOW, V.sessionView({ providerID: "mock" })).text, "Balancer mock/alpha");
});

test("a session.get answer is used only when it names a provider; other members must be strings", () => {
  assert.equal(V.sessionView({}), null, "the sidecar has not seen the session");
  assert.equal(V.sessionView(null), null);
  assert.equal(V.sessionView({ providerID: 3 }), null);
  assert.deepEqual(V.sessionView({ providerID: "mock", alias: 7, modelID: "m1" }), { providerID: "mock", modelID: "m1" });
});

test("the activation toast says what happens to a running session", () => {
  const bravo = acc({ providerID: "mock", alias: "bravo" });
  assert.equal(
    V.activatedMessage(bravo, { strategy: "sticky" }, { providerID: "mock", alias: "alpha" }),
    "mock/bravo is active: new sessions start on it; this session stays on mock/alpha while that account is healthy.",
  );
  assert.equal(
    V.activatedMessage(bravo, { strategy: "sticky" }, null),
    "mock/bravo is active: new sessions start on it; a running session keeps its account while that account is healthy.",
  );
  assert.match(V.activatedMessage(bravo, { strategy: "round-robin" }, null), /new sessions pick by the round-robin strategy/);
  assert.doesNotMatch(V.activatedMessage(bravo, {}, { providerID: "mock", alias: "bravo" }), /stays on/);
});

test("the empty pending tab says what the current autoSave does", () => {
  const off = V.pendingLines([], 0, NOW, { autoSave: false })[0].text;
  assert.match(off, /autoSave is off/);
  assert.match(off, /waits here until you save it/);
  assert.doesNotMatch(off, /at once/);
  for (const settings of [{ autoSave: true }, {}, undefined]) {
    const on = V.pendingLines([], 0, NOW, settings)[0].text;
    assert.match(on, /autoSave is on: a new \/connect login is saved as an account at once/);
  }
});

test("the usage toast says when an account has no usage endpoint, and which reads failed", () => {
  const who = { providerID: "mock", alias: "alpha" };
  const none = { providerID: "mock", alias: "alpha", confidence: "unavailable", error: "unsupported: no usage source", message: "m" };
  assert.deepEqual(V.usageReadToast([none], who), { variant: "info", message: "no usage endpoint for mock/alpha" });
  const failed = { providerID: "openai", alias: "w", confidence: "exact", usedPercent: 3, error: "timeout: 10 s" };
  assert.deepEqual(V.usageReadToast([failed], { providerID: "openai", alias: "w" }), {
    variant: "warning",
    message: "usage of openai/w not read: timeout: 10 s",
  });
  const good = { providerID: "openai", alias: "x", confidence: "exact", usedPercent: 3 };
  assert.deepEqual(V.usageReadToast([good], { providerID: "openai", alias: "x" }), { variant: "success", message: "usage of openai/x read" });
  assert.deepEqual(V.usageReadToast([good, failed, none], {}), {
    variant: "warning",
    message: "usage read for 1 account; not read: openai/w; no usage endpoint: mock/alpha",
  });
});

test("a failed action's toast names the thing and what to do, never the sidecar method", () => {
  const exists = V.failureMessage("pending.save", Object.assign(new Error("account mock/bravo already exists"), { code: -32002 }));
  assert.equal(exists, "Saving the login failed: account mock/bravo already exists. Choose another name.");
  const methods = ["accounts.activate", "accounts.rename", "accounts.remove", "accounts.setDisabled", "accounts.resetCooldown", "usage.refresh",
    "priority.move", "priority.setEnabled", "priority.setModel", "balancing.set", "settings.set", "pending.save", "pending.dismiss"];
  for (const m of methods) {
    const text = V.failureMessage(m, new Error("the sidecar is not running"));
    assert.ok(!text.includes(m), `${text} shows ${m}`);
    assert.match(text, /^[A-Z][a-z]+ .* failed: the sidecar is not running\.$/);
  }
  assert.equal(V.failureMessage("accounts.rename", { message: "bad\u001b[31m" }), "Renaming the account failed: bad\\u{1b}[31m.");
});
