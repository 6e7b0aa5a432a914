//! Which opencode lines are on this machine — opencode 1 (`opencode-ai` 1.x) and/or opencode 2
//! (`@opencode/cli` 2.x) — so `install` configures each that is there and `doctor` checks each.
//!
//! In order: `--host v1|v2|both` decides alone; else every `opencode` and `opencode2` on `PATH`
//! is asked `--version` (1.18.33 prints `1.18.33`, 2.1.2 `opencode v2.1.2`) and what they say
//! decides (opencode 2's installer replaces opencode 1's binary); only with neither on PATH, what
//! each line leaves in the user's folders counts (opencode 2: `cli.json(c)` in the config folder, or an
//! `opencode.db` with its `session_v2` table; opencode 1: `tui.json(c)`, or an `opencode.db` with
//! its `part` table). Both lines share the config folder, `opencode.json(c)` and `opencode.db`
//! (1.18.33 even has the same `credential` table), so only those marks tell them apart. When
//! nothing is found, opencode 1 (what `install` always did) and the output says how to choose.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::Paths;

/// How long `opencode --version` may take (a Bun binary of ~200 MB starts in well under this).
const VERSION_TIMEOUT: Duration = Duration::from_secs(15);

/// `--host`: which opencode lines to configure, overriding the detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HostChoice {
    /// opencode 1 (`opencode-ai` 1.x).
    V1,
    /// opencode 2 (`@opencode/cli` 2.x).
    V2,
    /// Both.
    Both,
}

/// One opencode line found, and what showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// `opencode --version`'s answer, when a binary was asked.
    pub version: Option<String>,
    /// A person's account of how it was found (`/usr/bin/opencode --version: 1.18.33`).
    pub how: String,
}

/// The lines found (or chosen) on this machine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hosts {
    pub v1: Option<Found>,
    pub v2: Option<Found>,
}

impl Hosts {
    /// Whether opencode 1 is to be configured: found, chosen, or nothing found at all.
    pub fn wants_v1(&self) -> bool {
        self.v1.is_some() || self.v2.is_none()
    }

    pub fn wants_v2(&self) -> bool {
        self.v2.is_some()
    }

    /// One line for `install`'s output.
    pub fn describe(&self) -> String {
        let line = |name: &str, f: &Option<Found>| match f {
            Some(f) => format!("{name}: {}", f.how),
            None => format!("{name}: not found"),
        };
        if self.v1.is_none() && self.v2.is_none() {
            return "no opencode found (none on PATH, no trace in its folders): configuring for opencode 1; \
                    `--host v2` or `--host both` chooses otherwise"
                .into();
        }
        format!("{}; {}", line("opencode 1", &self.v1), line("opencode 2", &self.v2))
    }
}

/// The hosts to configure: `choice` when given, else what [`detect`] finds.
pub fn resolve(choice: Option<HostChoice>, paths: &Paths) -> Hosts {
    let Some(choice) = choice else {
        return detect(paths, &path_dirs());
    };
    let name = match choice {
        HostChoice::V1 => "v1",
        HostChoice::V2 => "v2",
        HostChoice::Both => "both",
    };
    let chosen = |yes: bool| {
        yes.then(|| Found {
            version: None,
            how: format!("chosen with --host {name}"),
        })
    };
    Hosts {
        v1: chosen(choice != HostChoice::V2),
        v2: chosen(choice != HostChoice::V1),
    }
}

fn path_dirs() -> Vec<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default()
}

/// Binaries on `PATH` first, then the marks each line leaves in the user's folders.
pub fn detect(paths: &Paths, path: &[PathBuf]) -> Hosts {
    let mut hosts = Hosts::default();
    for name in ["opencode", "opencode2"] {
        let Some(bin) = path.iter().map(|d| d.join(name)).find(|b| is_executable(b)) else {
            continue;
        };
        let Some(version) = ask_version(&bin, VERSION_TIMEOUT) else {
            continue;
        };
        let found = Found {
            how: format!("{} --version: {version}", bin.display()),
            version: Some(version.clone()),
        };
        let slot = match major(&version) {
            Some(1) => &mut hosts.v1,
            Some(2) => &mut hosts.v2,
            _ => continue,
        };
        slot.get_or_insert(found);
    }
    // A binary on PATH is what the user runs (opencode 2's installer replaces opencode 1's): the
    // marks, which outlive an upgrade and which `install` itself leaves, count only without one.
    if hosts.v1.is_some() || hosts.v2.is_some() {
        return hosts;
    }
    let marks = Marks::read(paths);
    hosts.v2 = marks.v2.map(|how| Found { version: None, how });
    hosts.v1 = marks.v1.map(|how| Found { version: None, how });
    hosts
}

/// What each line left in the user's folders, as a person's sentence.
struct Marks {
    v1: Option<String>,
    v2: Option<String>,
}

impl Marks {
    fn read(paths: &Paths) -> Marks {
        let first = |names: &[&str]| {
            names
                .iter()
                .map(|n| paths.config_dir.join(n))
                .find(|p| p.symlink_metadata().is_ok())
                .map(|p| format!("{} exists", p.display()))
        };
        let db = paths.opencode_data_dir().join(crate::opencode2::DB_FILE);
        let tables = crate::opencode2::table_names(&db);
        let has = |t: &str| tables.iter().any(|n| n == t);
        let in_db = |t: &str| has(t).then(|| format!("{} has the `{t}` table", db.display()));
        Marks {
            v2: first(&["cli.json", "cli.jsonc"]).or_else(|| in_db(crate::opencode2::OPENCODE2_TABLE)),
            v1: first(&["tui.json", "tui.jsonc"]).or_else(|| in_db("part")),
        }
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `bin --version`'s last line, bounded in time (a binary that hangs is killed and counts as not
/// answering); never starts a background service (opencode 2 answers `--version` by itself).
fn ask_version(bin: &Path, timeout: Duration) -> Option<String> {
    let child = Command::new(bin)
        .arg("--version")
        .env("OPENCODE_DISABLE_AUTOUPDATE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(out)) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            text.lines()
                .rev()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(String::from)
        }
        Ok(_) => None,
        Err(_) => {
            // SAFETY: kill has no memory preconditions; `pid` is our own child, not yet reaped
            // (the waiting thread reaps it once it dies).
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            None
        }
    }
}

/// The major version in `1.18.33`, `v2.1.2` or `opencode v2.1.2`.
pub fn major(version: &str) -> Option<u64> {
    let word = version.split_whitespace().last()?;
    let digits = word.strip_prefix('v').unwrap_or(word);
    digits.split('.').next()?.parse().ok()
}

impl Paths {
    /// opencode's own data folder (`$XDG_DATA_HOME/opencode`): its `opencode.db` and its log.
    pub fn opencode_data_dir(&self) -> PathBuf {
        self.data_dir
            .parent()
            .map(|d| d.join("opencode"))
            .unwrap_or_else(|| PathBuf::from("opencode"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(root: &Path) -> Paths {
        Paths {
            config_dir: root.join("config/opencode"),
            data_dir: root.join("data/opencode-balancer"),
            record_file: root.join("config/opencode/record.json"),
            cache_dir: root.join("cache/opencode"),
        }
    }

    fn fake(dir: &Path, name: &str, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        let file = dir.join(name);
        std::fs::write(&file, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn a_version_that_does_not_come_is_given_up_on_in_time() {
        let dir = tempfile::tempdir().unwrap();
        fake(dir.path(), "opencode", "exec sleep 30");
        let started = std::time::Instant::now();
        assert_eq!(
            ask_version(&dir.path().join("opencode"), Duration::from_millis(300)),
            None
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        fake(dir.path(), "opencode", "exit 3");
        assert_eq!(ask_version(&dir.path().join("opencode"), Duration::from_secs(5)), None);
    }

    #[test]
    fn each_line_is_told_by_its_own_tables_in_opencode_db_not_by_the_shared_credential_table() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        let db_dir = p.opencode_data_dir();
        std::fs::create_dir_all(&db_dir).unwrap();
        let db = rusqlite::Connection::open(db_dir.join("opencode.db")).unwrap();
        db.execute_batch("CREATE TABLE credential(id TEXT);").unwrap();
        assert_eq!(detect(&p, &[]), Hosts::default(), "both lines have a credential table");
        db.execute_batch("CREATE TABLE session_v2(id TEXT);").unwrap();
        let h = detect(&p, &[]);
        assert!(h.v2.is_some_and(|f| f.how.contains("session_v2")) && h.v1.is_none());
        db.execute_batch("CREATE TABLE part(id TEXT);").unwrap();
        assert!(detect(&p, &[]).v1.is_some_and(|f| f.how.contains("`part`")));
    }

    #[test]
    fn telling_the_lines_apart_creates_nothing_beside_opencode_2s_database() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        let db_dir = p.opencode_data_dir();
        std::fs::create_dir_all(&db_dir).unwrap();
        let db = rusqlite::Connection::open(db_dir.join("opencode.db")).unwrap();
        db.pragma_update(None, "journal_mode", "WAL").unwrap();
        db.execute_batch("CREATE TABLE session_v2(id TEXT);").unwrap();
        drop(db); // opencode 2 closed: its -wal and -shm are gone
        let files = || {
            let mut names: Vec<String> = (std::fs::read_dir(&db_dir).unwrap())
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        assert_eq!(files(), ["opencode.db"]);
        assert!(detect(&p, &[]).v2.is_some());
        assert_eq!(files(), ["opencode.db"], "no -wal or -shm made by a read");
    }

    #[test]
    fn a_binary_on_path_outweighs_the_marks_in_the_folders() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        std::fs::create_dir_all(&p.config_dir).unwrap();
        std::fs::write(p.config_dir.join("tui.json"), "{}").unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        fake(&bin, "opencode", "echo 'opencode v2.1.2'");
        let h = detect(&p, &[dir.path().join("empty"), bin.clone()]);
        assert_eq!(h.v2.unwrap().version.as_deref(), Some("opencode v2.1.2"));
        assert!(h.v1.is_none(), "tui.json (install writes it too) does not count then");
        fake(&bin, "opencode2", "echo 'opencode v2.4.0'");
        fake(&bin, "opencode", "echo '1.18.33'");
        let h = detect(&p, &[bin]);
        assert!(h.v1.is_some() && h.v2.is_some_and(|f| f.how.contains("opencode2")));
    }

    #[test]
    fn versions_of_both_lines_are_read() {
        assert_eq!(major("1.18.33"), Some(1));
        assert_eq!(major("opencode v2.1.2"), Some(2));
        assert_eq!(major("v2.4.0"), Some(2));
        assert_eq!(major("opencode"), None);
        assert_eq!(major(""), None);
    }
}
