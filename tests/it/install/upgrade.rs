//! An install of the old layout (one copied plugin file and `tui/` beside the store's data, their
//! `file://` entries recorded for a byte-exact uninstall) upgraded by today's `install`: it ends
//! in the package folder with no stale file or entry, and `uninstall` gives back the exact bytes.

use std::path::Path;

use crate::common::in_home as run;
use base64::Engine as _;

const MARKER: &str =
    "// Installed by `opencode-balancer install` 0.2.0 for /old/bin; run it again after moving the binary.\n";

fn sha256_hex(bytes: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn record(original: &str, written: &str, created_array: bool) -> serde_json::Value {
    serde_json::json!({
        "original": base64::engine::general_purpose::STANDARD.encode(original),
        "written_sha256": sha256_hex(written.as_bytes()),
        "created_array": created_array,
    })
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Lays out what the old `install` (with `--config` when `config`) left; returns the original
/// bytes of opencode.jsonc and tui.json.
fn old_install(home: &Path, config: bool) -> (String, String) {
    let cfg = home.join("config/opencode");
    let data = home.join("data/opencode-balancer");
    std::fs::create_dir_all(&cfg).unwrap();
    let cfg = std::fs::canonicalize(&cfg).unwrap();
    let data_url = format!(
        "file://{}",
        std::fs::canonicalize(home)
            .unwrap()
            .join("data/opencode-balancer")
            .display()
    );
    let original_cfg = "{\n  // mine\n  \"plugin\": [\"other@1\"]\n}\n".to_string();
    let original_tui = "{ \"theme\": \"tokyonight\" }\n".to_string();
    let old_cfg = format!("{{\n  // mine\n  \"plugin\": [\"other@1\", \"{data_url}/opencode-balancer.js\"]\n}}\n");
    let old_tui = format!("{{ \"theme\": \"tokyonight\", \"plugin\": [\"{data_url}/tui/index.js\"] }}\n");
    write(
        &cfg.join("opencode.jsonc"),
        if config { &old_cfg } else { &original_cfg },
    );
    write(&cfg.join("tui.json"), &old_tui);
    let old_plugin =
        format!("{MARKER}const INSTALLED_BINARY = \"/old/bin\";\nexport const server = async () => ({{}});\n");
    if config {
        write(&data.join("opencode-balancer.js"), &old_plugin);
    } else {
        write(&cfg.join("plugin/opencode-balancer.js"), &old_plugin);
    }
    for f in ["index.js", "view.js", "rpc.js"] {
        write(&data.join("tui").join(f), &format!("{MARKER}// old {f}\n"));
    }
    let mut records = serde_json::Map::new();
    if config {
        records.insert(
            cfg.join("opencode.jsonc").display().to_string(),
            record(&original_cfg, &old_cfg, false),
        );
    }
    records.insert(
        cfg.join("tui.json").display().to_string(),
        record(&original_tui, &old_tui, true),
    );
    write(
        &cfg.join("balancer-install-record.json"),
        &serde_json::to_string_pretty(&records).unwrap(),
    );
    (original_cfg, original_tui)
}

/// Runs `uninstall` (`--config` when `config`), checks both configs are their original bytes
/// again; its output.
fn uninstall_gives_back(home: &Path, config: bool, original_cfg: &str, original_tui: &str) -> String {
    let cfg = home.join("config/opencode");
    let un: &[&str] = if config {
        &["uninstall", "--config"]
    } else {
        &["uninstall"]
    };
    let out = run(home, un);
    assert_eq!(
        std::fs::read_to_string(cfg.join("opencode.jsonc")).unwrap(),
        original_cfg,
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(cfg.join("tui.json")).unwrap(),
        original_tui,
        "{out}"
    );
    out
}

#[test]
fn an_old_layout_upgraded_by_install_is_the_package_layout_and_uninstall_gives_back_the_exact_bytes() {
    for config in [false, true] {
        let home = tempfile::tempdir().unwrap();
        let (original_cfg, original_tui) = old_install(home.path(), config);
        let cfg = home.path().join("config/opencode");
        let data = home.path().join("data/opencode-balancer");
        let args: &[&str] = if config { &["install", "--config"] } else { &["install"] };
        let out = run(home.path(), args);

        let both = std::fs::read_to_string(cfg.join("opencode.jsonc")).unwrap()
            + &std::fs::read_to_string(cfg.join("tui.json")).unwrap();
        assert!(
            !both.contains("opencode-balancer/opencode-balancer.js"),
            "no stale server entry: {out}\n{both}"
        );
        assert!(
            !both.contains("opencode-balancer/tui/index.js"),
            "no stale TUI entry: {out}\n{both}"
        );
        assert!(both.contains("opencode-balancer/package/tui/index.js"), "{both}");
        assert_eq!(
            both.contains("opencode-balancer/package/plugin/index.js"),
            config,
            "{both}"
        );
        assert!(
            !data.join("opencode-balancer.js").exists() && !data.join("tui").exists(),
            "{out}"
        );
        assert!(data.join("package/common/binary.js").exists() && data.join("package/package.json").exists());
        let thin = std::fs::read_to_string(cfg.join("plugin/opencode-balancer.js"));
        assert_eq!(thin.is_ok(), !config, "the thin file only on the plugin-folder route");

        let out = uninstall_gives_back(home.path(), config, &original_cfg, &original_tui);
        assert!(!data.join("package").exists(), "{out}");
        assert!(!cfg.join("plugin/opencode-balancer.js").exists(), "{out}");
    }
}

#[test]
fn uninstall_alone_removes_an_old_layout_install_byte_exact() {
    for config in [false, true] {
        let home = tempfile::tempdir().unwrap();
        let (original_cfg, original_tui) = old_install(home.path(), config);
        let out = uninstall_gives_back(home.path(), config, &original_cfg, &original_tui);
        assert!(!home.path().join("data/opencode-balancer/tui").exists(), "{out}");
        assert!(
            !home.path().join("config/opencode/plugin/opencode-balancer.js").exists(),
            "{out}"
        );
        assert!(
            !home.path().join("data/opencode-balancer/opencode-balancer.js").exists(),
            "{out}"
        );
    }
}

#[test]
fn a_file_in_the_package_folder_not_written_by_install_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let mine = home.path().join("data/opencode-balancer/package/common/sidecar.js");
    write(&mine, "// my own file\n");
    let out = crate::common::in_home_out(home.path(), &["install"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("was not written by opencode-balancer"));
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "// my own file\n");
    let package = home.path().join("data/opencode-balancer/package");
    assert!(
        !package.join("package.json").exists(),
        "nothing written before the refusal"
    );
    assert!(!home.path().join("config/opencode/plugin").exists());
}
