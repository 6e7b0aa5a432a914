//! `install` / `uninstall` through the real binary, in private XDG folders.

mod common;

use std::process::Command;

use common::BIN;

fn run(home: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn install_writes_the_plugin_into_the_global_folder_idempotently_and_uninstall_removes_it() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("config/opencode/plugin/opencode-balancer.js");
    let dry = run(home.path(), &["install", "--dry-run"]);
    assert!(dry.contains("would write"), "{dry}");
    assert!(!file.exists(), "a dry run changes nothing");
    run(home.path(), &["install"]);
    let text = std::fs::read_to_string(&file).unwrap();
    let bin = std::fs::canonicalize(BIN).unwrap();
    assert!(text.contains(&format!(
        "const INSTALLED_BINARY = {};",
        serde_json::to_string(&bin.display().to_string()).unwrap()
    )));
    assert!(run(home.path(), &["install"]).contains("unchanged"));
    run(home.path(), &["uninstall"]);
    assert!(!file.exists());
}

#[test]
fn install_config_adds_a_file_entry_keeping_the_rest_of_the_config() {
    let home = tempfile::tempdir().unwrap();
    let cfg_dir = home.path().join("config/opencode");
    std::fs::create_dir_all(&cfg_dir).unwrap();
    let cfg = cfg_dir.join("opencode.jsonc");
    std::fs::write(
        &cfg,
        "{\n  // keep me\n  \"plugin\": [\"some-plugin@1\"],\n  \"model\": \"x/y\"\n}\n",
    )
    .unwrap();
    run(home.path(), &["install", "--config"]);
    let text = std::fs::read_to_string(&cfg).unwrap();
    let entry = format!(
        "file://{}",
        home.path()
            .join("data/opencode-balancer/opencode-balancer.js")
            .display()
    );
    assert!(
        text.contains("// keep me") && text.contains("some-plugin@1") && text.contains(&entry),
        "{text}"
    );
    assert!(home.path().join("data/opencode-balancer/opencode-balancer.js").exists());
    assert!(
        !cfg_dir.join("plugin/opencode-balancer.js").exists(),
        "loaded once, not twice"
    );
    run(home.path(), &["install", "--config"]);
    assert_eq!(std::fs::read_to_string(&cfg).unwrap().matches(&entry).count(), 1);
    run(home.path(), &["uninstall", "--config"]);
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(
        !text.contains(&entry) && text.contains("some-plugin@1") && text.contains("// keep me"),
        "{text}"
    );
}

#[test]
fn doctor_explains_each_problem_and_passes_once_installed() {
    let home = tempfile::tempdir().unwrap();
    let doctor = |home: &std::path::Path| {
        Command::new(BIN)
            .arg("doctor")
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env_remove("OPENCODE_CONFIG_DIR")
            .env_remove("OPENCODE_BALANCER_STORE")
            .env_remove("OPENCODE_AUTH_CONTENT")
            .output()
            .unwrap()
    };
    let out = doctor(home.path());
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FAIL  the opencode plugin is not installed; run `opencode-balancer install`"),
        "{text}"
    );
    run(home.path(), &["install"]);
    let auth = home.path().join("data/opencode/auth.json");
    std::fs::create_dir_all(auth.parent().unwrap()).unwrap();
    std::fs::write(&auth, r#"{"openai":{"type":"api","key":"sk-test-doctor-FAKE"}}"#).unwrap();
    let out = doctor(home.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("(1 provider logins)") && text.contains("sidecar answered"),
        "{text}"
    );
    assert!(!text.contains("sk-test-doctor"), "{text}");
    let store = home.path().join("config/opencode/balancer.sqlite");
    std::fs::set_permissions(&store, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    std::fs::write(&auth, "{ not json").unwrap();
    let out = doctor(home.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        text.contains("has mode 644") && text.contains("auth.json does not parse"),
        "{text}"
    );
}
