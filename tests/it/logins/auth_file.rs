//! auth.json that is not a plain small file (a link to /dev/zero, a FIFO, a huge sparse file) or
//! holds bad entries, through the real binary: refused or skipped with a warning naming what and
//! where (never a value), and the watcher keeps capturing what opencode writes next.

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::common::*;
use serde_json::{json, Value};

fn write_atomic(path: &Path, content: &Value) {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, content.to_string()).unwrap();
    fs::rename(&tmp, path).unwrap();
}

fn log_of(s: &Sidecar) -> String {
    fs::read_to_string(&s.stderr_path).unwrap()
}

/// The sidecar's resident memory, from /proc.
fn rss_kib(s: &Sidecar) -> u64 {
    let status = fs::read_to_string(format!("/proc/{}/status", s.child.id())).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Makes a special file at a path.
type MakeFile = dyn Fn(&Path);

#[test]
fn a_link_to_dev_zero_a_fifo_and_a_huge_sparse_file_are_refused_and_a_real_login_later_is_captured() {
    let (_d, store) = temp_store();
    let file = auth_file(&store);
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    let opts = Options {
        log: "warn",
        ..Options::default()
    };
    let mut s = Sidecar::start_with(&store, opts);
    s.call("status", json!({}));
    let specials: [(&str, &MakeFile); 3] = [
        ("is a character device, not a regular file", &|p| {
            std::os::unix::fs::symlink("/dev/zero", p).unwrap()
        }),
        ("is a FIFO, not a regular file", &|p| {
            let c = CString::new(p.as_os_str().as_bytes()).unwrap();
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        }),
        ("is larger than 1024 KiB", &|p| {
            fs::File::create(p).unwrap().set_len(64 << 30).unwrap();
        }),
    ];
    for (n, (warning, make)) in specials.iter().enumerate() {
        // Made beside it and renamed over it, as opencode replaces the file.
        let tmp = file.with_extension("special");
        make(&tmp);
        fs::rename(&tmp, &file).unwrap();
        eventually(warning, || log_of(&s).contains(warning));
        assert!(rss_kib(&s) < 200 * 1024, "nothing of it was read into memory");
        let provider = format!("real-{n}");
        write_atomic(
            &file,
            &json!({&provider: {"type": "api", "key": format!("sk-test-real-{n}-FAKE")}}),
        );
        let e = s.wait_notification(|e| e["params"]["type"] == "account_saved");
        assert_eq!(e["params"]["providerID"], provider, "the watcher kept working");
    }
    let (_, _, _, log) = s.finish();
    for (warning, _) in specials {
        assert_eq!(log.matches(warning).count(), 1, "warned once: {log}");
    }
}

#[test]
fn one_bad_entry_is_skipped_and_named_while_the_good_ones_and_token_refreshes_are_captured() {
    let (_d, store) = temp_store();
    let file = auth_file(&store);
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    let oauth = |n: u32| json!({"type": "oauth", "access": format!("at-test-{n}-FAKE"), "refresh": format!("rt-test-{n}-FAKE"), "expires": 1, "accountId": "acct-1"});
    write_atomic(&file, &json!({"openai": oauth(1)}));
    let opts = Options {
        log: "warn",
        ..Options::default()
    };
    let mut s = Sidecar::start_with(&store, opts);
    s.wait_notification(|e| e["params"]["type"] == "account_saved");
    // A refresh of the saved login, a new login with a field an auth plugin added, and entries
    // this version cannot use: an unknown type, a wrong shape, an id opencode would not write.
    let mut plugin = json!({"type": "api", "key": "sk-test-groq-FAKE", "projectId": "p-1"});
    plugin["metadata"] = json!({"githubOrg": "acme"});
    write_atomic(
        &file,
        &json!({
            "openai": oauth(2),
            "groq": plugin,
            "future": {"type": "passkey", "key": "sk-test-LEAKED-1-FAKE"},
            "broken": "sk-test-LEAKED-2-FAKE",
            "not an id": {"type": "api", "key": "sk-test-LEAKED-3-FAKE"},
        }),
    );
    s.wait_notification(|e| e["params"]["type"] == "account_updated" && e["params"]["providerID"] == "openai");
    s.wait_notification(|e| e["params"]["type"] == "account_saved" && e["params"]["providerID"] == "groq");
    let list = s.call("accounts.list", json!({}));
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    let (_, _, stdout, log) = s.finish();
    assert!(
        log.contains("auth.json entry future: a type this version does not know"),
        "{log}"
    );
    assert!(
        log.contains("auth.json entry broken: expected an object, found a string"),
        "{log}"
    );
    assert!(
        log.contains("an entry whose provider id has characters outside"),
        "{log}"
    );
    assert!(
        !log.contains("keeping the last good version"),
        "the file was not rejected: {log}"
    );
    for text in [log, stdout.join("\n")] {
        assert!(!text.contains("LEAKED"), "{text}");
    }
}
