//! `install` / `uninstall` for each opencode line on this machine (`hosts`): opencode 1's routes
//! as before (`super::run`, `npm`), opencode 2's `plugins` entry (`v2`). Every config is checked
//! before anything is written; `uninstall` undoes both whatever is installed now, opencode 2's
//! edit first (it was made last, so the bytes before it are what opencode 1's record wrote).

use std::fmt::Write as _;
use std::path::Path;

use super::hosts::Hosts;
use super::{npm, remove_plugin_file, v2, Paths, MARKER};

/// What was asked on the command line.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    pub config: bool,
    pub npm: bool,
    pub dry_run: bool,
    pub remove: bool,
}

/// Opencode 1's part, exactly what `install` did before opencode 2.
fn v1(paths: &Paths, binary: &Path, req: Request) -> anyhow::Result<String> {
    if req.npm {
        npm::run(paths, binary, req.dry_run, req.remove)
    } else {
        super::run(paths, binary, req.config, req.dry_run, req.remove)
    }
}

/// Runs `install` (or `uninstall` with `req.remove`) for `hosts`.
pub fn run(paths: &Paths, binary: &Path, hosts: &Hosts, req: Request) -> anyhow::Result<String> {
    let mut out = String::new();
    if req.remove {
        v2::uninstall(paths, req.npm.then_some(binary), req.dry_run, &mut out)?;
        out.push_str(&v1(paths, binary, req)?);
        return Ok(out);
    }
    let _ = writeln!(out, "hosts: {}", hosts.describe());
    let v2_route = hosts.wants_v2() && !req.npm;
    if hosts.wants_v2() {
        v2::check(paths, None)?;
    }
    if hosts.wants_v1() {
        out.push_str(&v1(paths, binary, req)?);
    } else if !req.npm {
        drop_v1_folder_file(paths, req.dry_run, &mut out)?;
    }
    if v2_route {
        if hosts.wants_v1() {
            // opencode 1's install wrote the package folder.
            v2::install(paths, req.dry_run, &mut out)?;
        } else {
            v2::install_alone(paths, binary, req.dry_run, &mut out)?;
        }
        if !req.dry_run {
            v2::said(&mut out);
        }
    } else if hosts.wants_v2() {
        match v2::install_npm(paths, binary, req.dry_run, &mut out)? {
            Some(_) if !req.dry_run => v2::said(&mut out),
            Some(_) => {}
            None => {
                let _ = writeln!(
                    out,
                    "opencode 2: no installed opencode-balancer package was found to name in \"plugins\" \
                     (nothing added for it); `opencode-balancer install` installs from this binary instead."
                );
            }
        }
    }
    Ok(out)
}

/// Without opencode 1, our file in its plugin folder only makes opencode 2 load the server plugin
/// a second time (or fail to, if it is an old opencode-1-only file): it goes.
fn drop_v1_folder_file(paths: &Paths, dry_run: bool, out: &mut String) -> anyhow::Result<()> {
    let file = paths.plugin_folder_file();
    if std::fs::read(&file).is_ok_and(|b| b.starts_with(MARKER.as_bytes())) {
        let _ = writeln!(out, "opencode 1 is not here; opencode 2 would load this file as well:");
        remove_plugin_file(&file, dry_run, out)?;
    }
    Ok(())
}
