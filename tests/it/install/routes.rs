//! Install routes through the real binary, each in a fresh HOME: `install --npm` recognises every
//! form of its own entry and adds nothing; no route is installed on top of another; `doctor`
//! names the route it finds (global or project config, plugin folder), never advises a second
//! loader, ends every line with a newline and answers `--json` with a stable shape.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{in_home as run, in_home_env, in_home_out as run_out, BIN};

fn cfg_dir(home: &Path) -> PathBuf {
    let dir = home.join("config/opencode");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `doctor` (with `--json` when asked) started in `project`, as opencode would be.
fn doctor(home: &Path, project: &Path, json: bool) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("doctor")
        .current_dir(project)
        .env_remove("OPENCODE_AUTH_CONTENT");
    if json {
        cmd.arg("--json");
    }
    in_home_env(&mut cmd, home).output().unwrap()
}

fn project(home: &Path) -> PathBuf {
    let p = home.join("project");
    std::fs::create_dir_all(&p).unwrap();
    p
}

fn doctor_json(home: &Path) -> serde_json::Value {
    let out = doctor(home, &project(home), true);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

#[test]
fn install_npm_adds_nothing_when_its_entry_is_there_in_any_form() {
    let forms = [
        "\"opencode-balancer\"",
        "\"opencode-balancer@1.0.0\"",
        "\"opencode-balancer@^1\"",
        "[\"opencode-balancer\", {\"toast\": false}]",
        "[\"opencode-balancer@1.0.0\", {}]",
        "\"file://PKG\"",
        "\"PKG\"",
    ];
    for form in forms {
        let home = tempfile::tempdir().unwrap();
        let pkg = home.path().join("vendor/opencode-balancer");
        std::fs::create_dir_all(&pkg).unwrap();
        let form = form.replace("PKG", &pkg.display().to_string());
        let dir = cfg_dir(home.path());
        let text = format!("{{\n  \"plugin\": [\"other@2\", {form}]\n}}\n");
        std::fs::write(dir.join("opencode.json"), &text).unwrap();
        std::fs::write(dir.join("tui.jsonc"), &text).unwrap();
        let out = run(home.path(), &["install", "--npm"]);
        assert_eq!(out.matches("already has").count(), 2, "{form}: {out}");
        assert!(out.contains(&dir.join("tui.jsonc").display().to_string()), "{out}");
        for name in ["opencode.json", "tui.jsonc"] {
            assert_eq!(std::fs::read_to_string(dir.join(name)).unwrap(), text, "{form}: {name}");
        }
    }
}

#[test]
fn no_install_route_is_added_on_top_of_another_and_nothing_changes() {
    // npm first (a pinned tuple written by hand), then each copied-file route.
    let home = tempfile::tempdir().unwrap();
    let dir = cfg_dir(home.path());
    let npm = "{\"plugin\": [[\"opencode-balancer@1.0.0\", {}]]}\n";
    std::fs::write(dir.join("opencode.json"), npm).unwrap();
    for args in [&["install"][..], &["install", "--config"]] {
        let out = run_out(home.path(), args);
        assert!(!out.status.success(), "{args:?}");
        let why = stderr(&out);
        assert!(
            why.contains("already installed another way")
                && why.contains("opencode-balancer@1.0.0")
                && why.contains("take \"opencode-balancer@1.0.0\" out of"),
            "{why}"
        );
        assert_eq!(std::fs::read_to_string(dir.join("opencode.json")).unwrap(), npm);
        assert!(!dir.join("plugin").exists() && !dir.join("tui.json").exists());
        assert!(!home.path().join("data/opencode-balancer").exists());
    }

    // each copied-file route first, then npm.
    for route in [&["install"][..], &["install", "--config"]] {
        let home = tempfile::tempdir().unwrap();
        run(home.path(), route);
        let dir = cfg_dir(home.path());
        let before: Vec<_> = ["opencode.json", "tui.json"]
            .iter()
            .map(|n| std::fs::read(dir.join(n)).ok())
            .collect();
        let out = run_out(home.path(), &["install", "--npm"]);
        assert!(!out.status.success(), "{route:?}");
        let undo = if route.len() == 1 {
            "run `opencode-balancer uninstall`"
        } else {
            "run `opencode-balancer uninstall --config`"
        };
        assert!(stderr(&out).contains(undo), "{route:?}: {}", stderr(&out));
        let after: Vec<_> = ["opencode.json", "tui.json"]
            .iter()
            .map(|n| std::fs::read(dir.join(n)).ok())
            .collect();
        assert_eq!(before, after, "{route:?}");
        let other = if route.len() == 1 { "--config" } else { "--npm" };
        let other_route = run_out(home.path(), &["install", other]);
        assert!(!other_route.status.success(), "{route:?} then {other}");
        // The same route again is fine.
        run(home.path(), route);
    }
}

/// Installs one route in a fresh HOME.
type Install = dyn Fn(&Path);

#[test]
fn doctor_names_each_install_route_and_passes_on_it() {
    let routes: [(&str, &Install); 5] = [
        ("plugin-folder", &|h| {
            run(h, &["install"]);
        }),
        ("config-file-entry", &|h| {
            run(h, &["install", "--config"]);
        }),
        ("npm", &|h| {
            run(h, &["install", "--npm"]);
        }),
        ("npm", &|h| {
            let text = "{\"plugin\": [[\"opencode-balancer@^1\", {\"x\": 1}]]}";
            std::fs::write(cfg_dir(h).join("opencode.jsonc"), text).unwrap();
        }),
        ("npm", &|h| {
            let dot = project(h).join(".opencode");
            std::fs::create_dir_all(&dot).unwrap();
            std::fs::write(dot.join("opencode.json"), "{\"plugin\": [\"opencode-balancer@1.0.0\"]}").unwrap();
        }),
    ];
    for (i, (route, install)) in routes.iter().enumerate() {
        let home = tempfile::tempdir().unwrap();
        install(home.path());
        let out = doctor(home.path(), &project(home.path()), false);
        let text = stdout(&out);
        assert!(out.status.success(), "#{i} {route}: {text}");
        assert!(!text.contains("not installed"), "#{i}: {text}");
        if *route == "npm" {
            assert!(text.contains("plugin installed through npm"), "#{i}: {text}");
        } else {
            assert!(text.contains("matches this binary"), "#{i}: {text}");
        }
        let json = doctor_json(home.path());
        assert_eq!(json["route"], *route, "#{i}: {json}");
        assert_eq!(json["ok"], true, "#{i}: {json}");
        assert_eq!(json["loaders"].as_array().unwrap().len(), 1, "#{i}: {json}");
    }
}

#[test]
fn doctor_without_a_plugin_advises_one_install_and_with_two_routes_never_a_second() {
    let home = tempfile::tempdir().unwrap();
    let out = doctor(home.path(), &project(home.path()), false);
    assert!(!out.status.success());
    assert!(
        stdout(&out).contains("FAIL  the opencode plugin is not installed") && stdout(&out).contains("install --npm"),
        "{}",
        stdout(&out)
    );
    assert_eq!(doctor_json(home.path())["route"], serde_json::Value::Null);

    run(home.path(), &["install"]);
    let p = project(home.path());
    std::fs::write(p.join("opencode.json"), "{\"plugin\": [\"opencode-balancer\"]}").unwrap();
    let out = doctor(home.path(), &p, false);
    let text = stdout(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("FAIL  the plugin is installed two ways"), "{text}");
    assert!(
        text.contains(&format!(
            "take \"opencode-balancer\" out of \"plugin\" in {}",
            p.join("opencode.json").display()
        )),
        "{text}"
    );
    assert!(
        !text.contains("run `opencode-balancer install"),
        "never a second loader: {text}"
    );
    let json = doctor_json(home.path());
    assert_eq!(json["ok"], false);
    assert_eq!(json["loaders"].as_array().unwrap().len(), 2, "{json}");
}

#[test]
fn doctor_output_is_whole_lines_and_its_json_has_a_stable_shape() {
    let home = tempfile::tempdir().unwrap();
    run(home.path(), &["install", "--npm"]);
    let out = doctor(home.path(), &project(home.path()), false);
    let text = stdout(&out);
    assert!(text.ends_with('\n'), "{text:?}");
    for line in text.lines() {
        assert!(
            ["ok    ", "warn  ", "FAIL  "].iter().any(|t| line.starts_with(t)),
            "{line:?}"
        );
    }
    let json = doctor_json(home.path());
    let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["checks", "hosts", "loaders", "ok", "route"]);
    for check in json["checks"].as_array().unwrap() {
        assert!(
            ["ok", "warn", "fail"].contains(&check["level"].as_str().unwrap()),
            "{check}"
        );
        assert!(check["message"].is_string(), "{check}");
    }
    let loader = &json["loaders"][0];
    assert_eq!(loader["route"], "npm");
    assert_eq!(loader["entry"], "opencode-balancer");
    assert!(loader["place"].as_str().unwrap().ends_with("opencode.json"), "{loader}");
}
