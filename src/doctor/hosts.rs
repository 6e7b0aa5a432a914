//! `doctor`'s host section: which opencode lines are here (`install::hosts`), and for opencode 2
//! whether it will load the balancer — the `plugins` entry, the package folder, its root module
//! (opencode 2's loader needs it) and our file in the plugin folder (opencode 2 loads it too).

use serde_json::json;

use super::{Level, Report};
use crate::install::hosts::{self, Found, Hosts};
use crate::install::routes::{self, Route};
use crate::install::v2::Status;
use crate::install::Paths;

fn found_json(f: &Option<Found>) -> serde_json::Value {
    match f {
        Some(f) => json!({ "version": f.version, "how": f.how }),
        None => serde_json::Value::Null,
    }
}

/// Adds the host lines to `r` (and `hosts` to its JSON); returns what was found.
pub fn check(r: &mut Report, paths: &Paths) -> Hosts {
    let hosts = hosts::resolve(None, paths);
    match (&hosts.v1, &hosts.v2) {
        (None, None) => r.add(
            Level::Warn,
            "no opencode found (no `opencode` on PATH, no trace of either line in its folders); checking the opencode 1 install",
        ),
        (v1, v2) => {
            for (name, f) in [("opencode 1", v1), ("opencode 2", v2)] {
                if let Some(f) = f {
                    r.add(Level::Ok, format!("{name} found ({})", f.how));
                }
            }
        }
    }
    let status = Status::read(paths);
    if hosts.wants_v2() {
        check_v2(r, paths, &status);
    }
    r.hosts = json!({
        "v1": found_json(&hosts.v1),
        "v2": found_json(&hosts.v2),
        "v2Install": {
            "configured": status.entry_in.is_some(),
            "entry": status.entry_in.as_ref().map_or_else(|| crate::install::v2::entry(paths), |(_, e)| e.clone()),
            "config": status.entry_in.as_ref().map(|(c, _)| c.display().to_string()),
            "package": status.package.as_ref().map(|p| p.display().to_string()),
            "rootEntry": status.root_entry,
            "folderFile": status.folder_file.as_ref().map(|(p, ok)| json!({
                "path": p.display().to_string(),
                "v2Loadable": ok,
            })),
        },
    });
    hosts
}

fn check_v2(r: &mut Report, paths: &Paths, s: &Status) {
    let again = "run `opencode-balancer install` again";
    match &s.entry_in {
        Some((cfg, entry)) => r.add(
            Level::Ok,
            format!("opencode 2: \"plugins\" in {} names {entry}", cfg.display()),
        ),
        None => {
            r.add(
                Level::Fail,
                format!(
                    "opencode 2 does not load the balancer: no \"plugins\" entry for {} in opencode.json(c); {again}",
                    paths.package_dir().display()
                ),
            );
        }
    }
    match (&s.package, s.root_entry, &s.folder) {
        (Some(p), true, _) => r.add(Level::Ok, format!("opencode 2: package folder {} is in place", p.display())),
        (Some(p), false, _) => r.add(
            Level::Fail,
            format!(
                "opencode 2: {} has no index.js at its root, and opencode 2 skips such a folder without a word; {again}",
                p.display()
            ),
        ),
        (None, _, Some(dir)) => r.add(
            Level::Fail,
            format!("opencode 2: the package folder {} is missing (or not ours); {again}", dir.display()),
        ),
        (None, _, None) => r.add(
            Level::Ok,
            "opencode 2 installs the named package itself (from the registry)",
        ),
    }
    // opencode 2 reads opencode 1's "plugin" array too (docs/hosts.md).
    for l in routes::server_loaders(paths, None).iter().filter(|l| l.entry.is_some()) {
        let what = match l.route {
            Route::Npm => "tries to install that package from the registry itself",
            _ => "logs `configured plugin path must be a directory` for it (harmless; the balancer comes from \"plugins\")",
        };
        r.add(
            Level::Warn,
            format!("opencode 2 reads opencode 1's entry {l} too and {what}"),
        );
    }
    match &s.folder_file {
        Some((file, false)) => r.add(
            Level::Fail,
            format!(
                "{} is an opencode-1-only plugin file: opencode 2 loads that folder too and logs a load error in every session; {again}",
                file.display()
            ),
        ),
        Some((file, true)) => r.add(
            Level::Ok,
            format!(
                "{} loads in opencode 2 as well (the balancer registers its hooks once per process)",
                file.display()
            ),
        ),
        None => {}
    }
}
