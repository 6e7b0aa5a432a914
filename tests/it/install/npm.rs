//! `install --npm` / `uninstall --npm` through the real binary, in private XDG folders: the npm
//! package's names in opencode.json(c) and tui.json(c), edited as carefully as `--config` edits
//! them (comments, mode, symlinks kept; refused configs untouched; exact bytes given back).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::common::{in_home as run, in_home_out as run_out};

fn cfg_dir(home: &Path) -> PathBuf {
    let dir = home.join("config/opencode");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_mode(path: &Path, bytes: &[u8], mode: u32) {
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn state(path: &Path) -> (Vec<u8>, u32) {
    let bytes = std::fs::read(path).unwrap();
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    (bytes, mode)
}

/// Every file under `dir`, for "nothing else was written".
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// One name in both configs: opencode takes the package's `./server` export for opencode.json and
/// its `./tui` export for tui.json (as `opencode plugin <module>` writes them).
const ENTRY: &str = "\"opencode-balancer\"";

#[test]
fn install_npm_adds_the_package_names_to_both_configs_and_uninstall_npm_gives_back_the_bytes() {
    let home = tempfile::tempdir().unwrap();
    let dir = cfg_dir(home.path());
    let (cfg, tui) = (dir.join("opencode.jsonc"), dir.join("tui.json"));
    let cfg_original = b"{\n  // keep me\n  \"plugin\": [\"some-plugin@1\"],\n  \"model\": \"x/y\"\n}\n";
    let tui_original = b"{ \"theme\": \"tokyonight\" }\n";
    write_mode(&cfg, cfg_original, 0o640);
    write_mode(&tui, tui_original, 0o644);

    let dry = run(home.path(), &["install", "--npm", "--dry-run"]);
    assert!(dry.matches("would edit").count() == 2, "{dry}");
    assert_eq!(state(&cfg), (cfg_original.to_vec(), 0o640), "a dry run changes nothing");

    let out = run(home.path(), &["install", "--npm"]);
    let (cfg_after, cfg_mode) = state(&cfg);
    let (tui_after, tui_mode) = state(&tui);
    let (cfg_text, tui_text) = (
        String::from_utf8(cfg_after.clone()).unwrap(),
        String::from_utf8(tui_after.clone()).unwrap(),
    );
    assert!(
        cfg_text.contains("// keep me") && cfg_text.contains("some-plugin@1") && cfg_text.contains(ENTRY),
        "{out}\n{cfg_text}"
    );
    assert!(
        !cfg_text.contains("file://") && !cfg_text.contains("/tui"),
        "{cfg_text}"
    );
    assert!(
        tui_text.contains("tokyonight") && tui_text.contains(ENTRY),
        "{tui_text}"
    );
    assert_eq!((cfg_mode, tui_mode), (0o640, 0o644), "modes are kept");
    let written: Vec<_> = files(home.path())
        .into_iter()
        .filter(|p| !p.ends_with("balancer-install-record.json"))
        .collect();
    assert_eq!(written, vec![cfg.clone(), tui.clone()], "no plugin file is written");
    assert!(out.contains("warning: no opencode-balancer package was found"), "{out}");

    assert!(run(home.path(), &["install", "--npm"]).matches("already has").count() == 2);
    assert_eq!((state(&cfg).0, state(&tui).0), (cfg_after, tui_after), "idempotent");

    run(home.path(), &["uninstall", "--npm"]);
    assert_eq!(state(&cfg), (cfg_original.to_vec(), 0o640));
    assert_eq!(state(&tui), (tui_original.to_vec(), 0o644));
    assert!(!dir.join("balancer-install-record.json").exists());
}

#[test]
fn install_npm_creates_missing_configs_private_and_uninstall_removes_them() {
    let home = tempfile::tempdir().unwrap();
    run(home.path(), &["install", "--npm"]);
    let dir = home.path().join("config/opencode");
    let (cfg, tui) = (dir.join("opencode.json"), dir.join("tui.json"));
    assert_eq!(state(&cfg).1, 0o600);
    let parsed: serde_json::Value = serde_json::from_slice(&state(&cfg).0).unwrap();
    assert_eq!(parsed["plugin"], serde_json::json!(["opencode-balancer"]));
    let parsed: serde_json::Value = serde_json::from_slice(&state(&tui).0).unwrap();
    assert_eq!(parsed["plugin"], serde_json::json!(["opencode-balancer"]));
    run(home.path(), &["uninstall", "--npm"]);
    assert!(!cfg.exists() && !tui.exists());
}

#[test]
fn install_npm_writes_through_a_symlinked_config() {
    let home = tempfile::tempdir().unwrap();
    let dir = cfg_dir(home.path());
    let dotfiles = home.path().join("dotfiles");
    std::fs::create_dir_all(&dotfiles).unwrap();
    let real = dotfiles.join("opencode.json");
    let original = b"{\"model\": \"x/y\"}\n";
    write_mode(&real, original, 0o600);
    std::os::unix::fs::symlink(&real, dir.join("opencode.json")).unwrap();
    run(home.path(), &["install", "--npm"]);
    assert!(dir
        .join("opencode.json")
        .symlink_metadata()
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(String::from_utf8(state(&real).0).unwrap().contains(ENTRY));
    run(home.path(), &["uninstall", "--npm"]);
    assert_eq!(state(&real), (original.to_vec(), 0o600));
    assert!(dir
        .join("opencode.json")
        .symlink_metadata()
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn install_npm_refuses_a_config_that_is_not_an_object_and_changes_neither_file() {
    let home = tempfile::tempdir().unwrap();
    let dir = cfg_dir(home.path());
    let tui_original = b"{}\n";
    write_mode(&dir.join("tui.json"), tui_original, 0o644);
    for bad in [&b"[1, 2]\n"[..], b"{\"plugin\": \"not-an-array\"}", b"\xff\xfe{}"] {
        write_mode(&dir.join("opencode.json"), bad, 0o644);
        let out = run_out(home.path(), &["install", "--npm"]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("nothing was changed"), "{err}");
        assert_eq!(state(&dir.join("opencode.json")).0, bad);
        assert_eq!(
            state(&dir.join("tui.json")).0,
            tui_original,
            "the TUI config is untouched too"
        );
    }
}

#[test]
fn install_npm_on_top_of_install_config_is_refused_and_each_uninstall_gives_back_the_bytes() {
    let home = tempfile::tempdir().unwrap();
    let dir = cfg_dir(home.path());
    let cfg = dir.join("opencode.json");
    let original = b"{\n  \"model\": \"x/y\" // mine\n}\n";
    write_mode(&cfg, original, 0o600);
    run(home.path(), &["install", "--config"]);
    let with_config = state(&cfg);
    let refused = run_out(home.path(), &["install", "--npm"]);
    assert!(!refused.status.success(), "two routes would load the plugin twice");
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("uninstall --config"), "{why}");
    assert_eq!(state(&cfg), with_config, "nothing changed");
    assert!(!String::from_utf8_lossy(&with_config.0).contains(ENTRY));
    run(home.path(), &["uninstall", "--config"]);
    assert_eq!(state(&cfg), (original.to_vec(), 0o600));
    run(home.path(), &["install", "--npm"]);
    run(home.path(), &["uninstall", "--npm"]);
    assert_eq!(state(&cfg), (original.to_vec(), 0o600));
}

#[test]
fn npm_and_config_together_are_refused() {
    let home = tempfile::tempdir().unwrap();
    let out = run_out(home.path(), &["install", "--npm", "--config"]);
    assert!(!out.status.success());
    assert!(files(home.path()).is_empty(), "nothing written");
}
