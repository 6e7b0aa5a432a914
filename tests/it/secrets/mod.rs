//! Secrets stay secret: accounts with distinctive fake tokens go through every feature at the most
//! verbose log level, then every output is scanned for any 12-character piece of any token.
//!
//! Features: saving every kind of credential through the sidecar and the CLI, logins captured
//! from auth.json (saved and pending), the hot path (chat.message, chat.headers, fetch.begin,
//! fetch.result with 200, 429 and 503 failover, 401), Claude profile reads, a token refresh whose
//! endpoint echoes the refresh token in its refusal, usage reads against a loopback stand-in that
//! echoes the credential it gets, the `/balancer` command, every CLI command in text and JSON,
//! doctor and install, the dashboard's screens and keys, and credentials of every wrong shape
//! (auth.json, `OPENCODE_AUTH_CONTENT`, doctor, the CLI's stdin, at the default log level). Scanned: the sidecar's stdout and its
//! stderr log, every CLI command's stdout and stderr, the in-process trace log, every table of the
//! store but its credential columns (identities included: they are digests), and every dashboard
//! screen. Bench and demo run on stores of their own, and `dashboard` itself needs a terminal: its
//! screens are drawn here instead.

mod malformed;
mod token_refresh;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;

use crate::common::dashboard::{run, Harness};
use crate::common::*;
use opencode_balancer::dashboard::app::App;
use opencode_balancer::dashboard::render::draw;
use opencode_balancer::dashboard::theme::Theme;
use opencode_balancer::usage::fake_server::{FakeReply, FakeUsageServer};
use ratatui::crossterm::event::KeyCode;
use rusqlite::types::ValueRef;
use serde_json::{json, Value};

/// A hit is any piece of a token this long (a token or a long prefix of one).
const PIECE: usize = 12;

// Saved through the sidecar (`accounts.save`); the OpenAI access tokens are JWTs made below.
const OPENAI_REFRESH: &str = "rt-FAKE-SECRETSCAN-openai-refresh-4b8e1d7c2a9f";
const OPENAI_KEY: &str = "sk-FAKE-SECRETSCAN-openai-apikey-9c3f6a2e8d1b";
const WELLKNOWN_KEY: &str = "wk-FAKE-SECRETSCAN-wellknown-key-3e7a1c9f5b2d";
const WELLKNOWN_TOKEN: &str = "wt-FAKE-SECRETSCAN-wellknown-token-6d2b8f4a0e7c";
// Saved through the CLI.
const COPILOT_ACCESS: &str = "tid=FAKE-SECRETSCAN-copilot-access-1f5c9e3a7d;sku=scan";
const COPILOT_REFRESH: &str = "gho_FAKESECRETSCANcopilotRefresh8a2e6c0f4b9d";
const CLAUDE_ACCESS: &str = "sk-ant-oat01-FAKE-SECRETSCAN-access-5a9d3f7b1e6c";
const CLAUDE_REFRESH: &str = "sk-ant-ort01-FAKE-SECRETSCAN-refresh-0c4e8a2f6d1b";
const CLAUDE_KEY: &str = "sk-ant-api03-FAKE-SECRETSCAN-apikey-7e1b5d9c3a8f";
const SPARE_KEY: &str = "sk-FAKE-SECRETSCAN-spare-apikey-2a6e0c4f8b3d";
// Captured from auth.json: one saved at once (then refreshed by opencode), four pending.
const CAPTURED_REFRESH: &str = "rt-FAKE-SECRETSCAN-captured-refresh-8f3b7d1e5a0c";
const ROTATED_REFRESH: &str = "rt-FAKE-SECRETSCAN-rotated-refresh-3c7e1a5d9b2f";
// A Claude login captured from auth.json, whose profile is read with its access token.
const CLAUDE_CAPTURED_ACCESS: &str = "sk-ant-oat01-FAKE-SECRETSCAN-captured-8d2f6b0e4a9c";
const CLAUDE_CAPTURED_REFRESH: &str = "sk-ant-ort01-FAKE-SECRETSCAN-captured-3b7f1d5a9e2c";
const PENDING: [(&str, &str); 4] = [
    ("openrouter", "sk-or-v1-FAKE-SECRETSCAN-pending-a-4c8a2e6f0b"),
    ("groq", "gsk_FAKE_SECRETSCAN_pending_b_9d3f7b1e5a2c"),
    ("mistral", "ms-FAKE-SECRETSCAN-pending-c-6b0d4f8a2e7c"),
    ("xai", "xai-FAKE-SECRETSCAN-pending-d-1e5c9a3f7d0b"),
];
// Only ever sent in input the product refuses.
const REFUSED: &str = "sk-FAKE-SECRETSCAN-refused-input-5f9b3d7a1c6e";

#[test]
fn no_token_reaches_any_output_at_the_most_verbose_log_level() {
    let server = echoing_usage_server();
    let tokens = token_refresh::echoing_token_server();
    let (dir, store) = temp_store();
    // Every process started from here (sidecar, CLI, doctor's own sidecar) and the in-process
    // runtime get these (never through this process's environment, which every test shares):
    // usage read from the loopback stand-in only (with the test clock, an endpoint without an
    // override is never contacted), private data and config folders. Each logs at trace level.
    // (OPENCODE_BALANCER_DEBUG is the JavaScript plugin's switch; the binary has only this one.)
    let env = [
        ("OPENCODE_BALANCER_TEST_CLOCK", T0.to_string()),
        ("OPENCODE_BALANCER_USAGE_TIMEOUT_MS", "2000".into()),
        ("OPENCODE_BALANCER_CHATGPT_URL", server.url()),
        ("OPENCODE_BALANCER_OPENAI_URL", server.url()),
        ("OPENCODE_BALANCER_GITHUB_URL", server.url()),
        ("OPENCODE_BALANCER_ANTHROPIC_URL", server.url()),
        ("OPENCODE_BALANCER_CLAUDE_TOKEN_URL", tokens.claude_url()),
        ("XDG_DATA_HOME", data_home(&store).display().to_string()),
        ("XDG_CONFIG_HOME", dir.path().join("xdg-config").display().to_string()),
        ("HOME", dir.path().join("home").display().to_string()),
    ];
    let plan_access = jwt("scan.plan@example.test", "acct-scan-plan", "sigplan");
    let captured_access = jwt("scan.capture@example.test", "acct-scan-capture", "sigcapture");
    let rotated_access = jwt("scan.capture@example.test", "acct-scan-capture", "sigrotated");
    let mut out = Outputs {
        texts: vec![],
        env: env.map(|(k, v)| (k.to_string(), v)).to_vec(),
    };

    // The CLI saves what the sidecar then loads: Copilot and Claude OAuth, API keys.
    let copilot = oauth(COPILOT_ACCESS, COPILOT_REFRESH, None).to_string();
    let claude = oauth(CLAUDE_ACCESS, CLAUDE_REFRESH, None).to_string();
    let adds = [
        ("github-copilot", "work", copilot.as_str()),
        ("anthropic", "max", &claude),
        ("anthropic", "console", CLAUDE_KEY),
        ("openai", "spare", SPARE_KEY),
    ];
    for (provider, alias, credential) in adds {
        out.cli(&store, &["accounts", "add", provider, alias], Some(credential));
    }
    // A half-written auth.json holding a credential, there when the sidecar starts (and for doctor).
    let half_written = format!(r#"{{"openai": {{"type": "api", "key": "{REFUSED}"#);
    write_auth(&store, &half_written);

    let mut s = Sidecar::start_with(&store, out.options("trace"));
    eventually("the sidecar read the half-written auth.json", || {
        let log = std::fs::read_to_string(&s.stderr_path).unwrap();
        log.contains("keeping the last good version")
    });
    let saves = json!([
        ["initialize", {"client": {"name": "secrets-test", "version": "1"}}],
        ["accounts.save", {"providerID": "openai", "alias": "plan",
            "auth": oauth(&plan_access, OPENAI_REFRESH, Some("acct-scan-plan"))}],
        ["accounts.save", {"providerID": "openai", "alias": "key", "auth": {"type": "api", "key": OPENAI_KEY}}],
        ["accounts.save", {"providerID": "wellknown-test", "alias": "corp",
            "auth": {"type": "wellknown", "key": WELLKNOWN_KEY, "token": WELLKNOWN_TOKEN}}],
    ]);
    calls(&mut s, true, &saves);
    // A login opencode writes is saved by itself, named from the token's email claim.
    let login = oauth(&captured_access, CAPTURED_REFRESH, None);
    write_auth(&store, &json!({"openai": login}));
    let captured = |kind: &'static str| {
        move |n: &Value| n["params"]["type"] == kind && n["params"]["alias"] == "scan.capture-example.test"
    };
    s.wait_notification(captured("account_saved"));
    // opencode refreshes that login's tokens: the account follows.
    let refreshed = oauth(&rotated_access, ROTATED_REFRESH, None);
    write_auth(&store, &json!({"openai": refreshed}));
    s.wait_notification(captured("account_updated"));
    // A Claude login opencode writes: its profile (which echoes the token) names the account.
    let claude_login = oauth(CLAUDE_CAPTURED_ACCESS, CLAUDE_CAPTURED_REFRESH, None);
    write_auth(&store, &json!({"openai": refreshed, "anthropic": claude_login}));
    s.wait_notification(|n| n["params"]["type"] == "account_saved" && n["params"]["providerID"] == "anthropic");
    // Refused input that carries a credential: a duplicate, bad shapes, a bad alias, bad values.
    let refusals = json!([
        ["accounts.save", {"providerID": "openai", "alias": "dup", "auth": {"type": "api", "key": OPENAI_KEY}}],
        ["accounts.save", {"providerID": "openai", "alias": "dup", "auth": REFUSED}],
        ["accounts.save", {"providerID": "openai", "alias": "dup", "auth": {"type": "api", "key": 5, "junk": REFUSED}}],
        ["accounts.save", {"providerID": "openai", "alias": "dup", "auth": {"type": "nope", "key": REFUSED}}],
        ["accounts.save", {"providerID": "openai", "alias": "!!!", "auth": {"type": "api", "key": REFUSED}}],
        ["settings.set", {"key": "strategy", "value": REFUSED}],
        ["fetch.begin", {"requestID": REFUSED, "headerNames": []}],
    ]);
    calls(&mut s, false, &refusals);

    // The hot path, balancing on. OpenAI: 429 and 401 (its body quoting a key) fail over, then 200
    // with rate-limit headers; Copilot: 503 then 200; the wellknown account has nowhere to go.
    let balancing = json!([["priority.setModel", {"providerID": "openai", "modelID": "gpt-5"}],
        ["balancing.set", {"enabled": true}]]);
    calls(&mut s, true, &balancing);
    let refused = json!({"error": {"message": format!("Incorrect API key provided: {OPENAI_KEY}")}}).to_string();
    let quota = r#"{"error":{"type":"usage_limit_reached","resets_in_seconds":600}}"#;
    let requests = json!([
        ["openai", "authorization", [[429, {"retry-after": "120"}, quota], [401, {}, refused],
            [200, {"x-ratelimit-limit-requests": "100", "x-ratelimit-remaining-requests": "40"}, ""]]],
        ["anthropic", "x-api-key", [[200, {"anthropic-ratelimit-unified-5h-utilization": "0.3"}, ""]]],
        ["github-copilot", "authorization", [[503, {}, "busy"], [200, {}, ""]]],
        ["wellknown-test", "authorization", [[429, {}, refused]]],
    ]);
    for r in requests.as_array().unwrap() {
        request(&mut s, r[0].as_str().unwrap(), r[1].as_str().unwrap(), &r[2]);
    }

    // A token refresh the token endpoint refuses, quoting the refresh token back.
    token_refresh::refused_refresh(&mut s, &tokens);

    // Usage read from the providers (which echo the credential back), then every other method.
    let usage = s.call("usage.refresh", json!({}));
    assert_eq!(usage.as_array().unwrap().len(), 9, "{usage}");
    let management = json!([
        ["usage.list", {}], ["accounts.list", {}], ["status", {}], ["settings.get", {}], ["priority.list", {}],
        ["balancing.get", {}], ["events.list", {"limit": 10000}],
        ["accounts.resetCooldown", {"providerID": "openai", "alias": "plan"}],
        ["accounts.setDisabled", {"providerID": "openai", "alias": "spare", "disabled": true}],
        ["accounts.rename", {"providerID": "anthropic", "from": "console", "to": "api"}],
        ["settings.set", {"key": "autoSave", "value": false}],
    ]);
    calls(&mut s, true, &management);
    let commands = "help;list;status;use openai key;active openai;balancing off;balancing;priority;usage;events;oops";
    for text in commands.split(';') {
        s.call("command.run", json!({"text": text}));
    }
    // A key pasted after `/balancer` by mistake is an unknown command, and never comes back.
    s.call("command.run", json!({"text": SPARE_KEY}));

    // With autoSave off, logins wait as pending connections.
    let mut logins = json!({});
    for (provider, key) in PENDING {
        logins[provider] = json!({"type": "api", "key": key});
    }
    write_auth(&store, &logins);
    let mut pending = vec![];
    for (provider, _) in PENDING {
        let e = s.wait_notification(|n| {
            n["params"]["type"] == "pending_connection_captured" && n["params"]["providerID"] == provider
        });
        pending.push(e["params"]["metadata"]["id"].as_str().unwrap().to_string());
    }
    let pending_calls = json!([["pending.list", {}], ["pending.save", {"id": pending[0], "alias": "router"}],
        ["events.list", {"limit": 10000}]]);
    calls(&mut s, true, &pending_calls);
    let (_, _, stdout, stderr) = s.finish();
    assert!(stderr.contains("TRACE"), "the sidecar logged at trace level");
    out.keep("sidecar stderr (its log)", stderr);
    let mut handed_over = String::new();
    for line in stdout {
        let (visible, sanctioned) = split_sanctioned(&line);
        out.keep("sidecar stdout", visible);
        handed_over.push_str(&sanctioned);
    }

    // Every CLI command, in text and JSON, after the sidecar (the store is shared either way).
    let script = CLI_SCRIPT.replace("{b}", &pending[1]).replace("{c}", &pending[2]);
    for command in script.split(';') {
        out.cli(&store, &command.split_whitespace().collect::<Vec<_>>(), None);
    }
    out.cli_any(&store, &["doctor"], None);
    assert!(!out.cli_any(&store, &["accounts", "add", "openai", "again"], Some(OPENAI_KEY)));
    let bad = format!(r#"{{"type":"nope","key":"{REFUSED}"}}"#);
    assert!(!out.cli_any(&store, &["accounts", "add", "openai", "bad"], Some(&bad)));
    malformed::credentials(&store, &mut out);
    // Doctor on the half-written auth.json names the problem, never the content.
    write_auth(&store, &half_written);
    assert!(!out.cli_any(&store, &["doctor"], None));

    // The dashboard, in this process with its own trace log, on every screen and through its keys.
    let log = dir.path().join("dashboard-trace.log");
    let in_process = out.env.clone();
    dashboard(&store, &in_process, &log, &mut out);
    out.keep("in-process trace log", std::fs::read_to_string(&log).unwrap());

    // The store, table by table, but for the columns that hold credentials by design.
    let credentials = dump_store(&store, &mut out);
    assert_eq!(
        resolved_pending(&store),
        3,
        "saved (sidecar, CLI) and dismissed logins, scanned whole"
    );
    let resting = [
        &plan_access,
        &rotated_access,
        OPENAI_REFRESH,
        OPENAI_KEY,
        WELLKNOWN_KEY,
        WELLKNOWN_TOKEN,
        COPILOT_ACCESS,
        COPILOT_REFRESH,
        CLAUDE_ACCESS,
        CLAUDE_REFRESH,
        CLAUDE_KEY,
        ROTATED_REFRESH,
        CLAUDE_CAPTURED_ACCESS,
        CLAUDE_CAPTURED_REFRESH,
        PENDING[0].1,
        PENDING[1].1,
        PENDING[3].1,
    ];
    // Replaced by a refresh, removed, dismissed, refused: scanned all the same.
    let gone = [
        &captured_access,
        CAPTURED_REFRESH,
        SPARE_KEY,
        PENDING[2].1,
        REFUSED,
        malformed::SECRET,
    ];
    let scan = Scanner::new(resting.iter().chain(&gone));
    for token in resting {
        assert!(credentials.contains(token), "{token} was saved (the features ran)");
    }
    assert!(scan.first_hit(&credentials).is_some(), "scanner self-check");
    assert!(scan.first_hit(&REFUSED[..PIECE]).is_some(), "scanner self-check");
    assert!(scan.first_hit(&handed_over).is_some(), "setHeaders/syncAuth carry them");
    assert_features_ran(&store, &server);
    let hits: Vec<String> = (out.texts.iter())
        .filter_map(|(label, text)| scan.first_hit(text).map(|h| format!("{label}: …{h}…")))
        .collect();
    assert!(hits.is_empty(), "a credential leaked:\n{}", hits.join("\n"));
}

/// Every CLI command in text and JSON, `;`-separated (`{b}`, `{c}`: ids of pending logins).
const CLI_SCRIPT: &str = "status; status --json; -vvv accounts list; accounts list --json;
    accounts list --provider openai; accounts rename openai spare extra; accounts use openai plan;
    accounts disable anthropic max; accounts enable anthropic max; accounts reset openai key;
    accounts remove openai extra; pending list; pending list --json; pending save {b} groq-main;
    pending dismiss {c}; priority list; priority list --json; priority model anthropic claude-4;
    priority move anthropic up; priority disable openai; priority enable openai; balancing on;
    balancing status; balancing status --json; balancing off; config get; config get --json;
    config get strategy; config set strategy quota; events; events --json --limit 10000;
    events --type auth_failed; usage; usage --json; usage --refresh; usage --refresh --json;
    install; uninstall --dry-run";

/// The usage stand-in, one `path status body` a line: every endpoint answers with the credential
/// it was sent (`{{authorization}}`) in figures, in a field named after a credential, in an HTML
/// error page.
const ROUTES: &str = r#"/backend-api/wham/usage 200 {"plan_type":"plus {{authorization}}","access_token":"{{authorization}}","rate_limit":{"primary_window":{"used_percent":5,"limit_window_seconds":18000,"reset_at":1700003600}}}
/v1/organization/usage/completions 500 <html><body>{{authorization}} failed</body></html>
/copilot_internal/user 200 {"login":"octo","copilot_plan":"{{authorization}}","token":"{{authorization}}","quota_snapshots":{"premium_interactions":{"entitlement":300,"remaining":100}}}
/api/oauth/usage 200 {"five_hour":{"utilization":30.0,"resets_at":"2023-11-15T00:13:20Z"},"note":"{{authorization}}"}
/api/oauth/profile 200 {"account":{"uuid":"u-FAKE-scan","email_address":"{{authorization}}@example.test"},"organization":{"uuid":"o-FAKE-scan","name":"{{authorization}}"}}"#;

fn echoing_usage_server() -> FakeUsageServer {
    let server = FakeUsageServer::start().unwrap();
    for route in ROUTES.lines() {
        let [path, status, body] = route.splitn(3, ' ').collect::<Vec<_>>()[..] else {
            panic!("{route}")
        };
        let reply = match status {
            "200" => FakeReply::json(body),
            _ => FakeReply::status(status.parse().unwrap(), body),
        };
        server.route(path, reply);
    }
    server
}

/// Labelled texts to scan, and the environment of every process started for them.
struct Outputs {
    texts: Vec<(String, String)>,
    env: Vec<(String, String)>,
}

impl Outputs {
    /// The environment with the log at `level`.
    fn env_at(&self, level: &str) -> Vec<(String, String)> {
        let log = ("OPENCODE_BALANCER_LOG".to_string(), level.to_string());
        self.env.iter().cloned().chain([log]).collect()
    }

    /// A sidecar's options: this environment, the log at `level`.
    fn options(&self, level: &'static str) -> Options {
        Options {
            log: level,
            env: self.env.clone(),
            ..Options::default()
        }
    }

    fn keep(&mut self, label: impl Into<String>, text: impl Into<String>) {
        self.texts.push((label.into(), text.into()));
    }

    /// Runs a CLI command that must succeed; keeps its stdout and stderr (its trace log).
    fn cli(&mut self, store: &Path, args: &[&str], stdin: Option<&str>) {
        let ok = self.cli_any(store, args, stdin);
        assert!(ok, "{args:?} failed: {}", self.texts.last().unwrap().1);
    }

    /// Runs a CLI command that may fail; keeps its stdout and stderr, says whether it succeeded.
    fn cli_any(&mut self, store: &Path, args: &[&str], stdin: Option<&str>) -> bool {
        let o = cli_with(store, args, stdin, &self.env_at("trace"));
        self.keep(format!("{args:?} stdout"), String::from_utf8_lossy(&o.stdout));
        self.keep(format!("{args:?} stderr"), String::from_utf8_lossy(&o.stderr));
        o.status.success()
    }
}

/// An access token shaped like ChatGPT's: a JWT whose claims carry an email and an account id.
fn jwt(email: &str, account: &str, sig: &str) -> String {
    use base64::Engine;
    let enc = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let claims = json!({"email": email, "https://api.openai.com/auth": {"chatgpt_account_id": account}});
    let header = enc(json!({"alg": "none"}));
    format!("{header}.{}.FAKE-SECRETSCAN-{sig}-3d9f1b7e", enc(claims))
}

fn oauth(access: &str, refresh: &str, account_id: Option<&str>) -> Value {
    let mut auth = json!({"type": "oauth", "access": access, "refresh": refresh, "expires": T0 + 3_600_000});
    if let Some(id) = account_id {
        auth["accountId"] = json!(id);
    }
    auth
}

/// Writes opencode's auth.json the way opencode does (a new file renamed over the old one).
fn write_auth(store: &Path, content: &impl ToString) {
    let file = auth_file(store);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file.with_extension("tmp"), content.to_string()).unwrap();
    std::fs::rename(file.with_extension("tmp"), file).unwrap();
}

/// Calls each `[method, params]` of `script`; each must succeed (`ok`) or fail.
fn calls(s: &mut Sidecar, ok: bool, script: &Value) {
    for step in script.as_array().unwrap() {
        let (method, params) = (step[0].as_str().unwrap(), step[1].clone());
        if ok {
            s.call(method, params);
        } else {
            s.call_err(method, params);
        }
    }
}

/// One model request: chat.message, chat.headers, fetch.begin, then a fetch.result per
/// `[status, headers, body]` answer while the sidecar asks to retry.
fn request(s: &mut Sidecar, provider: &str, header: &str, answers: &Value) {
    let model = json!({"providerID": provider, "modelID": "m"});
    s.call("chat.message", json!({"sessionID": "scan", "model": model}));
    let headers = s.call(
        "chat.headers",
        json!({"sessionID": "scan", "providerID": provider, "modelID": "m"}),
    );
    let id = headers["requestID"].as_str().expect("a managed provider").to_string();
    let mut begin = json!({"requestID": id, "url": "https://llm.example.test/v1/chat", "method": "POST"});
    begin["headerNames"] = json!([header]);
    if header == "authorization" {
        begin["authorization"] = json!("bearer");
    }
    s.call("fetch.begin", begin);
    for (i, a) in answers.as_array().unwrap().iter().enumerate() {
        let result = json!({"requestID": id, "attempt": i + 1, "status": a[0], "headers": a[1], "body": a[2]});
        if s.call("fetch.result", result)["action"] != "retry" {
            break;
        }
    }
}

/// A stdout line split into what must be clean and what the protocol hands the host on purpose
/// (docs/protocol.md): `setHeaders` in the answers of fetch.begin and fetch.result (`{account,
/// setHeaders}`), `syncAuth.auth` in those of chat.headers (`{requestID, syncAuth}`) and
/// fetch.result, `auth` in an `auth.sync` notification. Only those exact fields, in answers of
/// those shapes, are left out of the scan; the rest of the line is scanned.
fn split_sanctioned(line: &str) -> (String, String) {
    let mut v: Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("stdout is not JSON: {line}"));
    let mut taken = vec![];
    if let Some(result) = v.get_mut("result").and_then(Value::as_object_mut) {
        let hot_path = result.contains_key("account") || result.contains_key("requestID");
        if hot_path {
            taken.extend(result.remove("setHeaders"));
            if let Some(sync) = result.get_mut("syncAuth").and_then(Value::as_object_mut) {
                taken.extend(sync.remove("auth"));
            }
        }
    }
    if v["method"] == "auth.sync" {
        taken.extend(v["params"].as_object_mut().and_then(|p| p.remove("auth")));
    }
    if taken.is_empty() {
        return (line.to_string(), String::new());
    }
    (v.to_string(), Value::Array(taken).to_string())
}

/// Drives the dashboard against an in-process runtime (trace-logged to `log`) through its keys
/// and keeps every screen: usage of all and of one, reset, disable and enable, activate, both
/// switches, the connect, help, rename and remove overlays, the pending login's save and dismiss
/// prompts, then the priority view: reorder, disable and enable, the model picker.
fn dashboard(store: &Path, env: &[(String, String)], log: &Path, out: &mut Outputs) {
    let file = std::fs::File::create(log).unwrap();
    let trace = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false);
    trace.with_writer(Mutex::new(file)).init();
    let keys = "U u x e e j a b b f f c ⎋ ? ⎋ r ! ⎋ d n G a ⎋ d n p J ␣ ␣ ⏎ ⎋ p";
    let mut screens = vec![];
    run(async {
        let mut h = Harness::start_with(store, env).await;
        screens.push(screen(&h.app, 160, 50));
        for key in keys.split(' ') {
            let code = match key {
                "⎋" => KeyCode::Esc,
                "⏎" => KeyCode::Enter,
                "␣" => KeyCode::Char(' '),
                _ => KeyCode::Char(key.chars().next().unwrap()),
            };
            h.press(code).await;
            screens.push(screen(&h.app, 100, 30));
        }
        screens.push(screen(&h.app, 80, 24));
    });
    for (i, s) in screens.into_iter().enumerate() {
        out.keep(format!("dashboard screen {i}"), s);
    }
}

/// The screen as text, one line per row.
fn screen(app: &App, w: u16, h: u16) -> String {
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
    term.draw(|f| draw(f, app, T0, &Theme::plain())).unwrap();
    let buf = term.backend().buffer();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>() + "\n")
        .collect()
}

/// The columns that hold a credential by design, the only place one may rest: `auth_json` of an
/// account, and of a pending connection while it is still pending (a saved or dismissed one keeps
/// none). Identities are digests of the credential, scanned like everything else.
const CREDENTIAL_COLUMNS: [(&str, &str); 2] = [("accounts", "auth_json"), ("pending_connections", "auth_json")];

/// Whether a row's `column` of `table` may hold a credential: one of `CREDENTIAL_COLUMNS`, in a
/// pending connection only while its `status` is `pending`.
fn holds_credential(table: &str, column: &str, status: Option<&str>) -> bool {
    CREDENTIAL_COLUMNS.contains(&(table, column)) && (table != "pending_connections" || status == Some("pending"))
}

/// Pending connections saved or dismissed, whose every column is scanned.
fn resolved_pending(store: &Path) -> i64 {
    let db = rusqlite::Connection::open(store).unwrap();
    db.query_row(
        "SELECT count(*) FROM pending_connections WHERE status != 'pending'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

/// Keeps every table of the store (listed from sqlite_master) as text, but for the credential
/// columns, whose content it returns.
fn dump_store(store: &Path, out: &mut Outputs) -> String {
    let db = rusqlite::Connection::open(store).unwrap();
    let mut names = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap();
    let tables: Vec<String> = names.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    assert!(
        tables.len() >= 8 && tables.contains(&"usage_snapshots".into()),
        "{tables:?}"
    );
    let mut credentials = String::new();
    for table in tables {
        let mut stmt = db.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns: Vec<String> = stmt.column_names().into_iter().map(String::from).collect();
        let status_at = (table == "pending_connections")
            .then(|| columns.iter().position(|c| c == "status").expect("a status column"));
        let mut rows = stmt.query([]).unwrap();
        let mut text = String::new();
        while let Some(row) = rows.next().unwrap() {
            let status: Option<String> = status_at.and_then(|i| row.get(i).unwrap());
            for (i, column) in columns.iter().enumerate() {
                let cell = match row.get_ref(i).unwrap() {
                    ValueRef::Text(b) | ValueRef::Blob(b) => String::from_utf8_lossy(b).into_owned(),
                    ValueRef::Integer(n) => n.to_string(),
                    ValueRef::Real(f) => f.to_string(),
                    ValueRef::Null => continue,
                };
                let secret = holds_credential(&table, column, status.as_deref());
                let sink = if secret { &mut credentials } else { &mut text };
                sink.push_str(&cell);
                sink.push('\n');
            }
        }
        out.keep(format!("table {table}"), text);
    }
    credentials
}

/// Each feature left its trace: the events it publishes, the reads the stand-in answered.
fn assert_features_ran(store: &Path, server: &FakeUsageServer) {
    let db = rusqlite::Connection::open(store).unwrap();
    let mut stmt = db.prepare("SELECT DISTINCT type FROM events").unwrap();
    let kinds: HashSet<String> = stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    let expected = "account_saved account_updated failover_performed rate_limit_detected auth_failed \
        failover_exhausted usage_refreshed usage_unavailable pending_connection_captured account_renamed login_required \
        account_removed account_activated priority_changed settings_changed cooldown_cleared";
    for kind in expected.split_whitespace() {
        assert!(kinds.contains(kind), "no {kind} event: {kinds:?}");
    }
    let read: HashSet<String> = server.seen().into_iter().map(|s| s.path).collect();
    for route in ROUTES.lines() {
        let path = route.split(' ').next().unwrap();
        assert!(read.contains(path), "{path} was never read: {read:?}");
    }
}

/// Finds any `PIECE`-byte piece of any token in a text.
struct Scanner {
    pieces: HashSet<Vec<u8>>,
}

impl Scanner {
    fn new<'a>(tokens: impl Iterator<Item = &'a &'a str>) -> Scanner {
        let mut pieces = HashSet::new();
        for token in tokens {
            pieces.extend(token.as_bytes().windows(PIECE).map(<[u8]>::to_vec));
        }
        Scanner { pieces }
    }

    /// The first hit with some context around it.
    fn first_hit(&self, text: &str) -> Option<String> {
        let bytes = text.as_bytes();
        let at = bytes.windows(PIECE).position(|w| self.pieces.contains(w))?;
        let context = &bytes[at.saturating_sub(60)..(at + PIECE + 60).min(bytes.len())];
        Some(String::from_utf8_lossy(context).into_owned())
    }
}
