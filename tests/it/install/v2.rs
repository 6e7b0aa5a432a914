//! `install` / `uninstall` / `doctor` for both opencode lines, through the real binary in a fresh
//! HOME with fake `opencode` binaries on PATH: which line is found (PATH, then the marks in its
//! folders, `--host` over both), opencode 2's `plugins` entry and package root module, the
//! stacked edits of both lines undone byte for byte, a bad config changing nothing, and what
//! `doctor` says about each line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{in_home_env, BIN};

/// A fresh HOME with `bin/` holding fake opencode binaries: `(name, what --version prints)`.
fn home_with(fakes: &[(&str, &str)]) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let bin = home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(home.path().join("config/opencode")).unwrap();
    for (name, version) in fakes {
        let file = bin.join(name);
        std::fs::write(&file, format!("#!/bin/sh\necho '{version}'\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    home
}

fn run(home: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("PATH", format!("{}:/usr/bin:/bin", home.join("bin").display()))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env_remove("OPENCODE_AUTH_CONTENT");
    in_home_env(&mut cmd, home).output().unwrap()
}

fn ok(home: &Path, args: &[&str]) -> String {
    let out = run(home, args);
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn cfg(home: &Path, name: &str) -> PathBuf {
    home.join("config/opencode").join(name)
}

fn package_dir(home: &Path) -> PathBuf {
    home.join("data/opencode-balancer/package")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const USER_CONFIG: &str = "{\n  // my settings\n  \"model\": \"mock/m1\", /* keep */\n}\n";

#[test]
fn opencode_2_on_path_gets_the_package_folder_in_plugins_and_uninstall_gives_back_every_byte() {
    let home = home_with(&[("opencode", "opencode v2.1.2")]);
    let h = home.path();
    std::fs::write(cfg(h, "opencode.jsonc"), USER_CONFIG).unwrap();
    let out = ok(h, &["install"]);
    assert!(out.contains("opencode 2: ") && out.contains("opencode v2.1.2"), "{out}");
    let text = read(&cfg(h, "opencode.jsonc"));
    let entry = format!("\"plugins\": [\"{}\"]", package_dir(h).display());
    assert!(
        text.contains(&entry) && text.contains("// my settings") && text.contains("/* keep */"),
        "{text}"
    );
    let root = read(&package_dir(h).join("index.js"));
    assert!(
        root.contains("export { default } from \"./plugin/index.js\";"),
        "{root}"
    );
    for file in ["package.json", "plugin/index.js", "tui/index.js", "common/binary.js"] {
        assert!(package_dir(h).join(file).is_file(), "{file}: {out}");
    }
    // No opencode 1 here: nothing of its routes (opencode 2 would load the plugin-folder file too).
    assert!(!cfg(h, "plugin/opencode-balancer.js").exists(), "{out}");
    assert!(!cfg(h, "tui.json").exists() && !text.contains("\"plugin\""), "{text}");
    let again = ok(h, &["install"]);
    assert!(again.contains("unchanged"), "{again}");
    assert_eq!(
        read(&cfg(h, "opencode.jsonc")),
        text,
        "a second install changes nothing"
    );

    let out = ok(h, &["uninstall"]);
    assert_eq!(read(&cfg(h, "opencode.jsonc")), USER_CONFIG, "{out}");
    assert!(!package_dir(h).join("index.js").exists(), "{out}");
    assert!(
        !package_dir(h).exists(),
        "the folder install created goes when empty: {out}"
    );
}

#[test]
fn both_lines_stack_their_edits_on_one_config_and_uninstall_undoes_both_byte_for_byte() {
    let home = home_with(&[("opencode", "1.18.33"), ("opencode2", "opencode v2.1.2")]);
    let h = home.path();
    std::fs::write(cfg(h, "opencode.jsonc"), USER_CONFIG).unwrap();
    let out = ok(h, &["install", "--config"]);
    let text = read(&cfg(h, "opencode.jsonc"));
    assert!(out.contains("opencode 1: ") && out.contains("opencode 2: "), "{out}");
    assert!(
        text.contains("\"plugin\": [\"file://") && text.contains("\"plugins\": ["),
        "{text}"
    );
    assert!(read(&cfg(h, "tui.json")).contains("tui/index.js"));
    let doctor = String::from_utf8(run(h, &["doctor"]).stdout).unwrap();
    assert!(doctor.contains("opencode 2 reads opencode 1's entry"), "{doctor}");
    ok(h, &["uninstall", "--config"]);
    assert_eq!(read(&cfg(h, "opencode.jsonc")), USER_CONFIG);
    assert!(!cfg(h, "tui.json").exists());
}

#[test]
fn without_opencode_on_path_the_marks_of_each_line_in_its_folders_decide() {
    let home = home_with(&[]);
    let h = home.path();
    std::fs::write(cfg(h, "cli.json"), "{}").unwrap();
    let out = ok(h, &["install", "--dry-run"]);
    assert!(
        out.contains("cli.json exists") && out.contains("opencode 1: not found"),
        "{out}"
    );
    assert!(out.contains("would edit") || out.contains("would create"), "{out}");
    assert!(!cfg(h, "opencode.json").exists(), "a dry run writes nothing");

    std::fs::write(cfg(h, "tui.json"), "{}").unwrap();
    let out = ok(h, &["install", "--dry-run"]);
    assert!(
        out.contains("tui.json exists") && out.contains("cli.json exists"),
        "{out}"
    );
}

#[test]
fn with_no_opencode_found_install_configures_opencode_1_as_before_and_says_how_to_choose() {
    let home = home_with(&[]);
    let h = home.path();
    let out = ok(h, &["install"]);
    assert!(out.contains("no opencode found") && out.contains("--host"), "{out}");
    assert!(cfg(h, "plugin/opencode-balancer.js").exists(), "{out}");
    assert!(!cfg(h, "opencode.json").exists(), "no plugins entry: {out}");
}

#[test]
fn host_flag_overrides_what_is_found() {
    let home = home_with(&[("opencode", "1.18.33")]);
    let h = home.path();
    let out = ok(h, &["install", "--host", "v2"]);
    assert!(out.contains("chosen with --host v2"), "{out}");
    assert!(read(&cfg(h, "opencode.json")).contains("\"plugins\""));
    assert!(!cfg(h, "plugin/opencode-balancer.js").exists(), "{out}");
    let bad = run(h, &["install", "--host", "v3"]);
    assert!(!bad.status.success());
}

#[test]
fn a_config_that_cannot_take_the_plugins_entry_changes_nothing() {
    let home = home_with(&[("opencode", "1.18.33"), ("opencode2", "opencode v2.1.2")]);
    let h = home.path();
    let bad = "{ \"plugins\": 5 }\n";
    std::fs::write(cfg(h, "opencode.jsonc"), bad).unwrap();
    let out = run(h, &["install"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an array"));
    assert_eq!(read(&cfg(h, "opencode.jsonc")), bad);
    assert!(
        !cfg(h, "plugin/opencode-balancer.js").exists(),
        "opencode 1's file was not written either"
    );
    assert!(!cfg(h, "tui.json").exists() && !package_dir(h).exists());
}

#[test]
fn an_opencode_1_file_in_the_plugin_folder_goes_when_only_opencode_2_is_here() {
    let home = home_with(&[("opencode", "1.18.33")]);
    let h = home.path();
    ok(h, &["install"]);
    let file = cfg(h, "plugin/opencode-balancer.js");
    assert!(file.exists());
    // opencode 2 replaced opencode 1 (its installer does): doctor names the file opencode 2
    // cannot load, and install takes it away.
    std::fs::write(h.join("bin/opencode"), "#!/bin/sh\necho 'opencode v2.1.2'\n").unwrap();
    let doctor = run(h, &["doctor"]);
    let text = String::from_utf8_lossy(&doctor.stdout);
    assert!(
        text.contains("opencode-1-only plugin file") || !read(&file).contains("server };"),
        "{text}"
    );
    let out = ok(h, &["install"]);
    assert!(out.contains("removed:") && !file.exists(), "{out}");
}

#[test]
fn doctor_names_each_line_and_opencode_2_s_install_also_in_json() {
    let home = home_with(&[("opencode", "opencode v2.1.2")]);
    let h = home.path();
    let before = run(h, &["doctor", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&before.stdout).unwrap();
    assert_eq!(v["hosts"]["v2"]["version"], "opencode v2.1.2", "{v}");
    assert!(v["hosts"]["v1"].is_null(), "{v}");
    assert_eq!(v["hosts"]["v2Install"]["configured"], false, "{v}");
    assert!(!before.status.success(), "opencode 2 without the entry is a problem");
    let text = String::from_utf8_lossy(&run(h, &["doctor"]).stdout).to_string();
    assert!(text.contains("opencode 2 does not load the balancer"), "{text}");
    assert!(
        !text.contains("the opencode plugin is not installed"),
        "no opencode 1 checks: {text}"
    );

    ok(h, &["install"]);
    let after: serde_json::Value = serde_json::from_slice(&run(h, &["doctor", "--json"]).stdout).unwrap();
    let v2 = &after["hosts"]["v2Install"];
    assert_eq!(v2["configured"], true, "{after}");
    assert_eq!(v2["rootEntry"], true, "{after}");
    assert_eq!(v2["package"], package_dir(h).display().to_string(), "{after}");
    assert_eq!(v2["entry"], package_dir(h).display().to_string(), "{after}");
    assert!(
        v2["config"].as_str().is_some_and(|c| c.ends_with("opencode.json")),
        "{after}"
    );
}

#[test]
fn install_npm_names_the_installed_package_folder_for_opencode_2_and_uninstall_npm_takes_it_out() {
    let home = home_with(&[("opencode", "opencode v2.1.2")]);
    let h = home.path();
    std::fs::write(cfg(h, "opencode.jsonc"), USER_CONFIG).unwrap();
    let out = ok(h, &["install", "--npm"]);
    assert!(out.contains("no installed opencode-balancer package"), "{out}");
    assert_eq!(
        read(&cfg(h, "opencode.jsonc")),
        USER_CONFIG,
        "nothing for opencode 2 without a copy"
    );

    let pkg = cfg(h, "node_modules/opencode-balancer");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("package.json"), "{\"name\": \"opencode-balancer\"}").unwrap();
    std::fs::write(pkg.join("index.js"), "export { default } from \"./plugin/index.js\";\n").unwrap();
    let out = ok(h, &["install", "--npm"]);
    let text = read(&cfg(h, "opencode.jsonc"));
    assert!(
        text.contains(&format!("\"plugins\": [\"{}\"]", pkg.display())),
        "{out}\n{text}"
    );
    let doctor: serde_json::Value = serde_json::from_slice(&run(h, &["doctor", "--json"]).stdout).unwrap();
    let v2 = &doctor["hosts"]["v2Install"];
    assert_eq!(v2["entry"], pkg.display().to_string(), "{doctor}");
    assert_eq!(
        (v2["package"].as_str(), &v2["rootEntry"]),
        (pkg.to_str(), &serde_json::json!(true)),
        "{doctor}"
    );
    ok(h, &["uninstall", "--npm"]);
    assert_eq!(read(&cfg(h, "opencode.jsonc")), USER_CONFIG);
}
