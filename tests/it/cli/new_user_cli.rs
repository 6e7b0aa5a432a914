//! A new user's first commands, through the real binary in a private HOME: names typed on the
//! command line are checked against what opencode knows, `priority remove`, refusals that name
//! the thing they are about, and `accounts add` at a terminal (prompt, no echo; under tmux).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{in_home_env, Sidecar, BIN};
use serde_json::json;

/// The binary in `home` (config, data and cache inside it), with `stdin` piped in.
fn run(home: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write as _;
    let mut cmd = Command::new(BIN);
    in_home_env(&mut cmd, home)
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("OPENCODE_BALANCER_LOG", "off")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(text) = stdin {
        child.stdin.as_mut().unwrap().write_all(text.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn ok(home: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let out = run(home, args, stdin);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The error text of a command that must fail, printing nothing on stdout.
fn refused(home: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let out = run(home, args, stdin);
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(
        out.stdout.is_empty(),
        "{args:?} printed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).unwrap()
}

/// An opencode.json with a custom provider `mock` whose only model is `m1`.
fn with_mock_provider(home: &Path) {
    let dir = home.join("config/opencode");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("opencode.json"),
        r#"{ // a comment, as opencode allows
  "provider": { "mock": { "npm": "@ai-sdk/openai-compatible", "models": { "m1": {} } } },
}"#,
    )
    .unwrap();
}

fn aliases(home: &Path) -> Vec<String> {
    let list: serde_json::Value = serde_json::from_str(&ok(home, &["accounts", "list", "--json"], None)).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|a| format!("{}/{}", a["providerID"].as_str().unwrap(), a["alias"].as_str().unwrap()))
        .collect()
}

#[test]
fn an_unknown_provider_is_refused_with_a_suggestion_and_nothing_is_saved() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    with_mock_provider(h);
    let err = refused(h, &["accounts", "add", "opneai", "spare"], Some("sk-test-typo-FAKE"));
    assert!(err.contains("unknown provider opneai; did you mean openai?"), "{err}");
    assert!(err.contains("--force") && !err.contains("sk-test"), "{err}");
    let err = refused(h, &["accounts", "add", "mokc", "a"], Some("sk-test-typo-FAKE"));
    assert!(err.contains("did you mean mock?"), "{err}");
    let err = refused(h, &["accounts", "add", "qqqqqqqq", "a"], Some("sk-test-far-FAKE"));
    assert!(err.contains("unknown provider qqqqqqqq; nothing was saved"), "{err}");
    assert!(aliases(h).is_empty());
    assert!(!ok(h, &["priority", "list"], None).contains("opneai"));

    // Built in, from the config, from the models.dev cache, forced, and once in the store.
    ok(h, &["accounts", "add", "openai", "a"], Some("sk-test-openai-FAKE"));
    ok(h, &["accounts", "add", "mock", "a"], Some("sk-test-mock-FAKE"));
    std::fs::create_dir_all(h.join("cache/opencode")).unwrap();
    std::fs::write(h.join("cache/opencode/models.json"), r#"{"fresh-one": {"models": {}}}"#).unwrap();
    ok(h, &["accounts", "add", "fresh-one", "a"], Some("sk-test-fresh-FAKE"));
    ok(
        h,
        &["accounts", "add", "my-proxy", "a", "--force"],
        Some("sk-test-proxy-FAKE"),
    );
    ok(h, &["accounts", "add", "my-proxy", "b"], Some("sk-test-proxy-b-FAKE"));
    assert_eq!(aliases(h).len(), 5);
}

#[test]
fn a_model_is_checked_against_the_providers_known_models() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    with_mock_provider(h);
    ok(h, &["accounts", "add", "mock", "a"], Some("sk-test-mock-FAKE"));
    let err = refused(h, &["priority", "model", "mock", "nonexistent-model"], None);
    assert!(err.contains("unknown model nonexistent-model for mock"), "{err}");
    assert!(err.contains("nothing was changed"), "{err}");
    let err = refused(h, &["priority", "model", "mock", "m2"], None);
    assert!(err.contains("did you mean m1?"), "{err}");
    assert!(ok(h, &["priority", "list"], None).contains("model: (none)"));
    ok(h, &["priority", "model", "mock", "m1"], None);
    ok(h, &["priority", "model", "mock", "m2", "--force"], None);
    assert!(ok(h, &["priority", "list"], None).contains("model: m2"));
    ok(h, &["priority", "model", "mock", " "], None);
    assert!(
        ok(h, &["priority", "list"], None).contains("model: (none)"),
        "an empty model clears it"
    );

    // From the models.dev cache; a provider whose models are not known: accepted, with a note.
    std::fs::create_dir_all(h.join("cache/opencode")).unwrap();
    std::fs::write(
        h.join("cache/opencode/models.json"),
        r#"{"openai": {"models": {"gpt-5": {}, "gpt-5-mini": {}}}}"#,
    )
    .unwrap();
    let err = refused(h, &["priority", "model", "openai", "gpt5-mini"], None);
    assert!(err.contains("did you mean gpt-5-mini?"), "{err}");
    ok(h, &["priority", "model", "openai", "gpt-5"], None);
    let out = run(h, &["priority", "model", "anthropic", "claude-x"], None);
    assert!(out.status.success());
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(
        note.contains("models of anthropic are not known here") && note.contains("claude-x"),
        "{note}"
    );
    let err = refused(h, &["priority", "model", "anthropik", "claude-x"], None);
    assert!(err.contains("did you mean anthropic?"), "{err}");
}

#[test]
fn priority_remove_takes_out_a_provider_without_accounts_and_refuses_one_with_accounts() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    ok(
        h,
        &["accounts", "add", "opneai", "spare", "--force"],
        Some("sk-test-typo-FAKE"),
    );
    ok(h, &["accounts", "add", "openai", "work"], Some("sk-test-work-FAKE"));
    let err = refused(h, &["priority", "remove", "opneai"], None);
    assert!(err.contains("still has 1 saved account; remove it first"), "{err}");
    ok(h, &["accounts", "remove", "opneai", "spare"], None);
    let list = ok(h, &["priority", "remove", "opneai"], None);
    assert!(list.starts_with("1. openai") && !list.contains("opneai"), "{list}");
    let err = refused(h, &["priority", "remove", "opneai"], None);
    assert!(err.contains("'opneai' is not in the priority list"), "{err}");

    // The protocol method, over pipes.
    let store = h.join("config/opencode/balancer.sqlite");
    let mut s = Sidecar::start(&store);
    s.save_api("anthropic", "max", "sk-test-max-FAKE");
    let e = s.call_err("priority.remove", json!({"providerID": "anthropic"}));
    assert_eq!(e["code"], -32003, "{e}");
    s.call("accounts.remove", json!({"providerID": "anthropic", "alias": "max"}));
    let list = s.call("priority.remove", json!({"providerID": "anthropic"}));
    assert_eq!(
        list,
        json!([{"providerID": "openai", "position": 0, "modelID": null, "enabled": true}])
    );
}

#[test]
fn a_key_saved_under_another_alias_is_named_as_the_key_not_as_the_alias() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    ok(h, &["accounts", "add", "openai", "bravo"], Some("sk-test-same-FAKE"));
    let err = refused(h, &["accounts", "add", "openai", "charlie"], Some("sk-test-same-FAKE"));
    assert!(err.contains("this key is already saved as openai/bravo"), "{err}");
    assert!(!err.contains("--replace") && !err.contains("already exists"), "{err}");
    let err = refused(h, &["accounts", "add", "openai", "Bravo "], Some("sk-test-other-FAKE"));
    assert!(err.contains("account openai/bravo already exists"), "{err}");
    assert!(err.contains("add --replace"), "{err}");
    assert_eq!(aliases(h), ["openai/bravo"]);
}

#[test]
fn every_not_found_names_what_was_not_found_and_fails() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    ok(h, &["accounts", "add", "openai", "work"], Some("sk-test-work-FAKE"));
    let err = refused(h, &["accounts", "list", "--provider", "nope"], None);
    assert!(err.contains("no provider nope") && err.contains("openai"), "{err}");
    let err = refused(h, &["events", "--type", "nosuchtype"], None);
    assert!(
        err.contains("unknown event type nosuchtype; known: ") && err.contains("failover_performed"),
        "{err}"
    );
    assert!(ok(h, &["events", "--type", "account_saved"], None).contains("openai/work"));
    assert!(refused(h, &["accounts", "remove", "openai", "nobody"], None).contains("no account openai/nobody"));
    assert_eq!(
        ok(h, &["accounts", "remove", "openai", "work"], None),
        "account openai/work removed\n"
    );
    assert!(refused(h, &["pending", "dismiss", "p-123"], None).contains("no pending login p-123"));
    for args in [
        ["accounts", "use", "openai", "ghost"],
        ["accounts", "reset", "openai", "ghost"],
        ["accounts", "enable", "openai", "ghost"],
    ] {
        assert!(refused(h, &args, None).contains("openai/ghost"), "{args:?}");
    }
    assert!(refused(h, &["accounts", "rename", "openai", "ghost", "x"], None).contains("openai/ghost"));
    assert!(refused(h, &["pending", "save", "p-9", "x"], None).contains("p-9"));
}

#[test]
fn accounts_add_at_a_terminal_prompts_and_does_not_echo_the_key() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("SKIPPED: tmux is not installed; the terminal prompt test needs it");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let socket = h.join("tmux.sock");
    let script = h.join("add.sh");
    std::fs::write(
        &script,
        format!(
            "export HOME='{h}' XDG_CONFIG_HOME='{h}/config' XDG_DATA_HOME='{h}/data' XDG_CACHE_HOME='{h}/cache' OPENCODE_BALANCER_LOG=off\n\
             '{BIN}' accounts add openai spare; echo \"exit=$?\"; exec cat\n",
            h = h.display()
        ),
    )
    .unwrap();
    let tmux = |args: &[&str]| {
        let out = Command::new("tmux").arg("-S").arg(&socket).args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    tmux(&[
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        "add",
        "-x",
        "120",
        "-y",
        "20",
        "sh",
        script.to_str().unwrap(),
    ]);
    let screen = |what: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = tmux(&["capture-pane", "-p", "-t", "add"]);
            if s.contains(what) || Instant::now() > deadline {
                return s;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let s = screen("Paste the API key for openai/spare, then Enter:");
    assert!(s.contains("Paste the API key for openai/spare, then Enter:"), "{s}");
    tmux(&["send-keys", "-t", "add", "-l", "sk-test-typed-FAKE"]);
    tmux(&["send-keys", "-t", "add", "Enter"]);
    let s = screen("exit=");
    tmux(&["kill-server"]);
    assert!(s.contains("openai/spare saved") && s.contains("exit=0"), "{s}");
    assert!(!s.contains("sk-test-typed"), "the key was echoed: {s}");
    assert_eq!(aliases(h), ["openai/spare"]);
}

/// Every file and folder under `root`, sorted.
fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(root).unwrap().display().to_string());
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn uninstall_removes_the_empty_folders_install_created_and_no_other() {
    for route in [None, Some("--config")] {
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        // The user's own empty folder inside one install writes into.
        std::fs::create_dir_all(h.join("data/mine")).unwrap();
        let before = tree(h);
        let args = |verb: &'static str| -> Vec<&str> { [verb].into_iter().chain(route).collect() };
        ok(h, &args("install"), None);
        assert!(h.join("config/opencode").is_dir());
        let out = ok(h, &args("uninstall"), None);
        assert!(out.contains("removed empty folder: "), "{out}");
        assert_eq!(tree(h), before, "{route:?}: {out}");
    }
    // A folder that holds something by then stays.
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    ok(h, &["install"], None);
    std::fs::write(h.join("config/opencode/plugin/other.js"), "// another plugin\n").unwrap();
    ok(h, &["uninstall"], None);
    assert!(h.join("config/opencode/plugin/other.js").is_file());
    assert!(!h.join("data/opencode-balancer").exists());
}

#[test]
fn the_dry_run_names_each_change_as_the_real_run_then_makes_it() {
    for route in [None, Some("--config"), Some("--npm")] {
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        std::fs::create_dir_all(h.join("config/opencode")).unwrap();
        std::fs::write(h.join("config/opencode/tui.json"), "{}\n").unwrap();
        let dry: Vec<&str> = ["install", "--dry-run"].into_iter().chain(route).collect();
        let real: Vec<&str> = ["install"].into_iter().chain(route).collect();
        let would = ok(h, &dry, None);
        let did = ok(h, &real, None);
        let planned: Vec<String> = would
            .lines()
            .filter_map(|l| l.strip_prefix("would "))
            .map(|l| l.split(" (").next().unwrap().to_string())
            .collect();
        assert!(!planned.is_empty(), "{would}");
        for p in &planned {
            let (verb, path) = p.split_once(": ").unwrap();
            let done = match verb {
                "edit" => "edited",
                "create" => "created",
                "write" => "wrote",
                "update" => "updated",
                other => panic!("{other}"),
            };
            assert!(did.contains(&format!("{done}: {path}")), "{route:?}: {p} vs\n{did}");
        }
    }
}

#[test]
fn install_npm_says_when_opencode_cannot_find_the_package() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let out = ok(h, &["install", "--npm"], None);
    assert!(out.contains("warning: no opencode-balancer package was found"), "{out}");
    assert!(out.contains("opencode-balancer install`"), "{out}");
    ok(h, &["uninstall", "--npm"], None);

    let pkg = h.join("cache/opencode/node_modules/opencode-balancer");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("package.json"), r#"{"name": "opencode-balancer"}"#).unwrap();
    let out = ok(h, &["install", "--npm"], None);
    assert!(!out.contains("warning"), "{out}");
    assert!(
        out.contains(&format!("loads the opencode-balancer package ({})", pkg.display())),
        "{out}"
    );
}
