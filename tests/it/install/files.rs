//! `install` / `uninstall` through the real binary, in private XDG folders.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{in_home_env, BIN};

/// The binary in private XDG folders under `home`, with `umask` set first.
fn run_umask(home: &Path, umask: &str, args: &[&str]) -> Output {
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg(format!("umask {umask}; exec \"$0\" \"$@\""))
        .arg(BIN)
        .args(args);
    in_home_env(&mut sh, home).output().unwrap()
}

fn run(home: &Path, args: &[&str]) -> String {
    let out = run_umask(home, "022", args);
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
    let package = home.path().join("data/opencode-balancer/package");
    let thin = std::fs::read_to_string(&file).unwrap();
    assert!(
        thin.contains(&format!(
            "export {{ server }} from \"file://{}\";",
            package.join("plugin/index.js").display()
        )) && thin.contains(".plugin-folder"),
        "{thin}"
    );
    let text = std::fs::read_to_string(package.join("common/binary.js")).unwrap();
    let bin = std::fs::canonicalize(BIN).unwrap();
    assert!(text.contains(&format!(
        "const INSTALLED_BINARY = {};",
        serde_json::to_string(&bin.display().to_string()).unwrap()
    )));
    assert!(run(home.path(), &["install"]).contains("unchanged"));
    run(home.path(), &["uninstall"]);
    assert!(!file.exists());
    assert!(!package.exists(), "the package folder goes too");
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
            .join("data/opencode-balancer/package/plugin/index.js")
            .display()
    );
    assert!(
        text.contains("// keep me") && text.contains("some-plugin@1") && text.contains(&entry),
        "{text}"
    );
    assert!(home
        .path()
        .join("data/opencode-balancer/package/plugin/index.js")
        .exists());
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
        text.contains("FAIL  the opencode plugin is not installed") && text.contains("run `opencode-balancer install`"),
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

const FAKE: &str = "sk-test-config-FAKE-0123";

fn cfg_dir(home: &Path) -> PathBuf {
    home.join("config/opencode")
}

fn entry(home: &Path) -> String {
    format!(
        "file://{}",
        home.join("data/opencode-balancer/package/plugin/index.js").display()
    )
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Bytes and permission bits of a file.
fn state(path: &Path) -> (Vec<u8>, u32) {
    (std::fs::read(path).unwrap(), mode(path))
}

fn write_mode(path: &Path, bytes: &[u8], mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `args` fail with an error naming `named` and `why`, quoting no secret, and change nothing at `path`
/// (nor leave a plugin file or a stray file in the config folder).
fn refused(home: &Path, args: &[&str], path: &Path, named: &str, why: &str) {
    let before = state(path);
    let files = |d: &Path| {
        let mut v: Vec<_> = std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name()).collect();
        v.sort();
        v
    };
    let listing = files(path.parent().unwrap());
    let out = run_umask(home, "022", args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} succeeded");
    assert!(err.contains(named) && err.contains(why), "{args:?}: {err}");
    assert!(
        !err.contains(FAKE) && !String::from_utf8_lossy(&out.stdout).contains(FAKE),
        "{err}"
    );
    assert_eq!(state(path), before, "{args:?} changed {}", path.display());
    assert_eq!(files(path.parent().unwrap()), listing, "{args:?}");
    assert!(!home.join("data/opencode-balancer/package/plugin/index.js").exists());
}

#[test]
fn install_config_refuses_a_config_that_is_not_a_utf8_jsonc_object_and_changes_nothing() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            [format!("{{\"provider\": {{\"key\": \"{FAKE}").as_bytes(), b"\xff\"}}"].concat(),
            "not UTF-8",
        ),
        (b"{\"a\": \"\xff\"}".to_vec(), "not UTF-8"),
        (format!("[\"{FAKE}\"]").into_bytes(), "top level is not an object"),
        (format!("\"{FAKE}\"").into_bytes(), "top level is not an object"),
        (b"42".to_vec(), "top level is not an object"),
        (b"null".to_vec(), "top level is not an object"),
        (format!("{{\"key\": {FAKE}}}").into_bytes(), "not valid JSON/JSONC"),
        (format!("{{\"key\": \"{FAKE}\"").into_bytes(), "not valid JSON/JSONC"),
        (b"{\"plugin\": \"one\"}".to_vec(), "\"plugin\" is not an array"),
    ];
    for (bytes, why) in cases {
        let home = tempfile::tempdir().unwrap();
        let cfg = cfg_dir(home.path()).join("opencode.json");
        write_mode(&cfg, &bytes, 0o600);
        for args in [
            &["install", "--config"][..],
            &["install", "--config", "--dry-run"],
            &["uninstall", "--config"],
        ] {
            if args[0] == "uninstall" && why.contains("plugin") {
                continue; // nothing of ours to take out of a config without our entry
            }
            refused(home.path(), args, &cfg, "opencode.json", why);
        }
    }
}

#[test]
fn install_config_keeps_the_mode_and_uninstall_gives_back_the_exact_bytes() {
    let originals: [&[u8]; 5] = [
        b"\xef\xbb\xbf{\r\n  // keys live here\r\n  \"model\": \"x/y\",\r\n}\r\n// trailing comment\r\n",
        b"{\n  \"plugin\": [\"some-plugin@1\",],\n  \"model\": \"x/y\" /* keep */\n}",
        b"{}",
        b"",
        b"{\"plugin\": []}\n",
    ];
    for original in originals {
        let home = tempfile::tempdir().unwrap();
        let cfg = cfg_dir(home.path()).join("opencode.jsonc");
        write_mode(&cfg, original, 0o600);
        assert!(run(home.path(), &["install", "--config", "--dry-run"]).contains("would edit"));
        assert_eq!(state(&cfg), (original.to_vec(), 0o600), "a dry run changes nothing");
        run(home.path(), &["install", "--config"]);
        let (after, mode) = state(&cfg);
        assert_eq!(mode, 0o600, "the mode is kept");
        assert_eq!(
            String::from_utf8(after.clone())
                .unwrap()
                .matches(&entry(home.path()))
                .count(),
            1
        );
        assert!(run(home.path(), &["install", "--config"]).contains("already has"));
        assert_eq!(state(&cfg).0, after, "idempotent: no rewrite");
        let record = home.path().join("config/opencode/balancer-install-record.json");
        assert_eq!(state(&record).1, 0o600, "the record holds the original: private");
        assert!(run(home.path(), &["uninstall", "--config", "--dry-run"]).contains("would edit"));
        assert_eq!(state(&cfg).0, after, "a dry run changes nothing");
        run(home.path(), &["uninstall", "--config"]);
        assert_eq!(
            state(&cfg),
            (original.to_vec(), 0o600),
            "{:?}",
            String::from_utf8_lossy(original)
        );
        assert!(!record.exists());
    }
}

#[test]
fn uninstall_after_other_edits_takes_out_only_its_entry_and_the_array_it_created() {
    let home = tempfile::tempdir().unwrap();
    let cfg = cfg_dir(home.path()).join("opencode.json");
    write_mode(&cfg, b"{\n  // mine\n  \"model\": \"x/y\"\n}\n", 0o644);
    run(home.path(), &["install", "--config"]);
    let text = std::fs::read_to_string(&cfg).unwrap().replace("x/y", "x/z");
    std::fs::write(&cfg, &text).unwrap();
    run(home.path(), &["uninstall", "--config"]);
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        "{\n  // mine\n  \"model\": \"x/z\"\n}\n"
    );

    // An array that was there before keeps its other entries and no stray comma.
    write_mode(&cfg, b"{\n  \"plugin\": [\"a@1\"],\n  \"model\": \"x/y\"\n}\n", 0o644);
    run(home.path(), &["install", "--config"]);
    let text = std::fs::read_to_string(&cfg).unwrap().replace("x/y", "x/z");
    std::fs::write(&cfg, &text).unwrap();
    run(home.path(), &["uninstall", "--config"]);
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        "{\n  \"plugin\": [\"a@1\"],\n  \"model\": \"x/z\"\n}\n"
    );
}

#[test]
fn install_config_refuses_a_read_only_config_and_a_dangling_symlink() {
    let home = tempfile::tempdir().unwrap();
    let cfg = cfg_dir(home.path()).join("opencode.json");
    write_mode(&cfg, b"{\"model\": \"x/y\"}", 0o444);
    refused(
        home.path(),
        &["install", "--config"],
        &cfg,
        "opencode.json",
        "read-only",
    );
    refused(
        home.path(),
        &["install", "--config", "--dry-run"],
        &cfg,
        "opencode.json",
        "read-only",
    );

    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(cfg_dir(home.path())).unwrap();
    let link = cfg_dir(home.path()).join("opencode.jsonc");
    std::os::unix::fs::symlink(home.path().join("dotfiles/gone.jsonc"), &link).unwrap();
    for args in [&["install", "--config"][..], &["install", "--config", "--dry-run"]] {
        let out = run_umask(home.path(), "022", args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("does not exist"), "{err}");
        assert!(std::fs::read_link(&link).is_ok() && !home.path().join("dotfiles").exists());
        assert!(!home
            .path()
            .join("data/opencode-balancer/package/plugin/index.js")
            .exists());
    }
}

#[test]
fn a_symlinked_config_is_edited_at_its_target_and_the_link_stays() {
    let home = tempfile::tempdir().unwrap();
    let real = home.path().join("dotfiles/opencode.json");
    let original = b"{\n  \"model\": \"x/y\"\n}\n";
    write_mode(&real, original, 0o600);
    std::fs::create_dir_all(cfg_dir(home.path())).unwrap();
    let link = cfg_dir(home.path()).join("opencode.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    run(home.path(), &["install", "--config"]);
    assert_eq!(std::fs::read_link(&link).unwrap(), real, "the link is left as it is");
    let (text, mode) = state(&real);
    assert!(String::from_utf8(text).unwrap().contains(&entry(home.path())));
    assert_eq!(mode, 0o600);
    let strays: Vec<_> = std::fs::read_dir(real.parent().unwrap()).unwrap().collect();
    assert_eq!(strays.len(), 1, "no temporary file left beside the target");
    run(home.path(), &["uninstall", "--config"]);
    assert_eq!(state(&real), (original.to_vec(), 0o600));
    assert!(std::fs::read_link(&link).is_ok());
}

#[test]
fn install_never_follows_a_planted_symlink_at_a_temporary_name() {
    let home = tempfile::tempdir().unwrap();
    let victim = home.path().join("victim");
    write_mode(&victim, b"untouched", 0o644);
    let cfg_dir = cfg_dir(home.path());
    let data_dir = home.path().join("data/opencode-balancer");
    std::fs::create_dir_all(&data_dir).unwrap();
    std::fs::create_dir_all(cfg_dir.join("plugin")).unwrap();
    std::fs::write(cfg_dir.join("opencode.json"), "{}").unwrap();
    // The names the previous version used, and the obvious ones.
    for plant in [
        cfg_dir.join("opencode.tmp-opencode-balancer"),
        cfg_dir.join("opencode.json.tmp"),
        cfg_dir.join("plugin/opencode-balancer.js.tmp"),
        data_dir.join("opencode-balancer.js.tmp"),
    ] {
        std::os::unix::fs::symlink(&victim, plant).unwrap();
    }
    run(home.path(), &["install", "--config"]);
    // One copied-file route at a time: the other is refused while this one is there.
    run(home.path(), &["uninstall", "--config"]);
    run(home.path(), &["install"]);
    assert_eq!(state(&victim), (b"untouched".to_vec(), 0o644));
}

#[test]
fn with_umask_000_the_plugin_file_is_0644_its_folders_0755_and_a_new_config_0600() {
    let home = tempfile::tempdir().unwrap();
    let out = run_umask(home.path(), "000", &["install"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let file = cfg_dir(home.path()).join("plugin/opencode-balancer.js");
    assert_eq!(state(&file).1, 0o644);
    assert_eq!(mode(file.parent().unwrap()), 0o755);
    run(home.path(), &["uninstall"]);
    let out = run_umask(home.path(), "000", &["install", "--config"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let plugin = home.path().join("data/opencode-balancer/package/plugin/index.js");
    assert_eq!(state(&plugin).1, 0o644);
    assert_eq!(mode(plugin.parent().unwrap()), 0o755);
    let cfg = cfg_dir(home.path()).join("opencode.json");
    assert_eq!(state(&cfg).1, 0o600, "opencode configs may hold keys");
    run(home.path(), &["uninstall", "--config"]);
    assert!(!cfg.exists(), "install created it, uninstall takes it away");
}

#[test]
fn install_edits_the_jsonc_when_both_exist_and_uninstall_cleans_both() {
    let home = tempfile::tempdir().unwrap();
    let json = cfg_dir(home.path()).join("opencode.json");
    let jsonc = cfg_dir(home.path()).join("opencode.jsonc");
    write_mode(&json, b"{\"model\": \"x/y\"}", 0o644);
    write_mode(&jsonc, b"{\"model\": \"x/y\"}", 0o644);
    run(home.path(), &["install", "--config"]);
    assert_eq!(std::fs::read(&json).unwrap(), b"{\"model\": \"x/y\"}");
    assert!(std::fs::read_to_string(&jsonc).unwrap().contains(&entry(home.path())));
    // An entry added by hand to the other file goes too.
    std::fs::write(
        &json,
        format!("{{\"model\": \"x/y\", \"plugin\": [{:?}]}}", entry(home.path())),
    )
    .unwrap();
    run(home.path(), &["uninstall", "--config"]);
    assert_eq!(std::fs::read(&jsonc).unwrap(), b"{\"model\": \"x/y\"}");
    assert_eq!(std::fs::read_to_string(&json).unwrap(), "{\"model\": \"x/y\"}");
}

#[test]
fn install_run_as_root_leaves_the_config_owned_by_its_user() {
    use std::os::unix::fs::MetadataExt;
    if std::fs::metadata("/proc/self").map(|m| m.uid()).ok() != Some(0) {
        return; // only root can hand a file to another user
    }
    let home = tempfile::tempdir().unwrap();
    let cfg = cfg_dir(home.path()).join("opencode.json");
    write_mode(&cfg, b"{}", 0o600);
    std::os::unix::fs::chown(&cfg, Some(65534), Some(65534)).unwrap();
    run(home.path(), &["install", "--config"]);
    let meta = std::fs::metadata(&cfg).unwrap();
    assert_eq!((meta.uid(), meta.gid(), mode(&cfg)), (65534, 65534, 0o600));
}
