//! `install` / `uninstall` of the TUI plugin through the real binary, in private XDG folders:
//! its files in the package folder beside the store's data (never in a folder opencode scans for
//! server plugins) and its entry in tui.json(c), edited as carefully as opencode.json(c).

use std::path::{Path, PathBuf};

use crate::common::{in_home as run, in_home_out as run_out, BIN};

fn tui_dir(home: &Path) -> PathBuf {
    home.join("data/opencode-balancer/package/tui")
}

fn tui_entry(home: &Path) -> String {
    format!("file://{}", tui_dir(home).join("index.js").display())
}

const FILES: [&str; 4] = ["index.js", "view.js", "rpc.js", "v2/index.js"];

#[test]
fn install_writes_the_tui_plugin_beside_the_data_adds_it_to_tui_jsonc_and_uninstall_gives_back_the_bytes() {
    for args in [&["install"][..], &["install", "--config"][..]] {
        let home = tempfile::tempdir().unwrap();
        let cfg = home.path().join("config/opencode");
        std::fs::create_dir_all(&cfg).unwrap();
        let original = "{\n  // my theme\n  \"theme\": \"tokyonight\",\n  \"plugin\": [\"other-tui-plugin\"]\n}\n";
        std::fs::write(cfg.join("tui.jsonc"), original).unwrap();

        let out = run(home.path(), args);
        let edited = std::fs::read_to_string(cfg.join("tui.jsonc")).unwrap();
        assert!(
            edited.contains("// my theme")
                && edited.contains("\"other-tui-plugin\"")
                && edited.contains(&tui_entry(home.path())),
            "{out}\n{edited}"
        );
        assert!(
            !cfg.join("tui.json").exists(),
            "the existing tui.jsonc is the one edited"
        );
        let binary_js = home.path().join("data/opencode-balancer/package/common/binary.js");
        let index = std::fs::read_to_string(binary_js).unwrap();
        let bin = std::fs::canonicalize(BIN).unwrap();
        assert!(index.contains(&format!(
            "const INSTALLED_BINARY = {};",
            serde_json::to_string(&bin.display().to_string()).unwrap()
        )));
        for f in FILES {
            let text = std::fs::read_to_string(tui_dir(home.path()).join(f)).unwrap();
            assert!(text.starts_with("// Installed by `opencode-balancer install`"), "{f}");
        }
        let scanned = cfg.join("plugin");
        if scanned.exists() {
            let names: Vec<_> = std::fs::read_dir(&scanned)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(
                names,
                ["opencode-balancer.js"],
                "only the server plugin where opencode scans"
            );
        }

        assert!(run(home.path(), args).contains(&format!("unchanged: {}", cfg.join("tui.jsonc").display())));
        let out = run(home.path(), &[&["uninstall"][..], &args[1..]].concat());
        assert_eq!(
            std::fs::read_to_string(cfg.join("tui.jsonc")).unwrap(),
            original,
            "{out}"
        );
        assert!(!tui_dir(home.path()).exists(), "{out}");
    }
}

#[test]
fn a_new_tui_json_is_created_and_removed_again_and_a_dry_run_changes_nothing() {
    let home = tempfile::tempdir().unwrap();
    let tui_json = home.path().join("config/opencode/tui.json");
    let dry = run(home.path(), &["install", "--dry-run"]);
    assert!(dry.contains(&format!("would create: {}", tui_json.display())), "{dry}");
    assert!(
        !tui_json.exists() && !tui_dir(home.path()).exists(),
        "a dry run changes nothing"
    );

    run(home.path(), &["install"]);
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&tui_json).unwrap()).unwrap();
    assert_eq!(v["plugin"], serde_json::json!([tui_entry(home.path())]));

    let dry = run(home.path(), &["uninstall", "--dry-run"]);
    assert!(tui_json.exists() && dry.contains("would"), "{dry}");
    run(home.path(), &["uninstall"]);
    assert!(!tui_json.exists(), "install created it, uninstall removes it");
}

#[test]
fn a_tui_json_that_cannot_be_edited_is_refused_and_nothing_is_installed() {
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("config/opencode");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(cfg.join("tui.json"), "{ \"plugin\": \"not-an-array\" }").unwrap();
    for args in [&["install"][..], &["install", "--config"][..]] {
        let out = run_out(home.path(), args);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("tui.json") && err.contains("not an array"), "{err}");
        assert!(!cfg.join("plugin").exists(), "no server plugin either");
        assert!(!home.path().join("data/opencode-balancer").exists() || !tui_dir(home.path()).exists());
        assert!(!cfg.join("opencode.json").exists());
    }
    assert_eq!(
        std::fs::read_to_string(cfg.join("tui.json")).unwrap(),
        "{ \"plugin\": \"not-an-array\" }"
    );
}
