//! Part of the secret scan (`secrets/mod.rs`): credentials of every wrong shape, each holding a
//! secret where a value of another kind goes, through every path that reads credentials at the
//! default log level.

use std::path::Path;

use serde_json::{json, Value};

use super::{write_auth, Outputs};
use crate::common::*;

/// Only ever in credentials of a wrong shape (auth.json, OPENCODE_AUTH_CONTENT, the CLI's stdin).
pub const SECRET: &str = "sk-FAKE-SECRETSCAN-malformed-7d3a9e1c5b0f";

/// Credentials of every wrong shape, each holding a secret where a value of another kind goes.
fn malformed_shapes() -> Vec<Value> {
    let m = SECRET;
    vec![
        json!(m),
        json!([m]),
        json!({"type": m, "key": m}),
        json!({"type": "api", "key": [m], "metadata": {"githubOrg": m}}),
        json!({"type": "api", "key": m, "metadata": m}),
        json!({"type": "api", "key": m, "metadata": {m: [m]}}),
        json!({"type": "oauth", "refresh": m, "access": m, "expires": m}),
        json!({"type": "oauth", "refresh": {"nested": m}, "access": m, "expires": 1}),
        json!({"type": "wellknown", "key": m}),
    ]
}

/// The malformed-credential paths at the default log level: a sidecar reading them from
/// auth.json and from `OPENCODE_AUTH_CONTENT` (each entry warned about by provider id), doctor on
/// that auth.json, and the CLI given each of them on stdin.
pub fn credentials(store: &Path, out: &mut Outputs) {
    let mut file = serde_json::Map::new();
    for (i, shape) in malformed_shapes().into_iter().enumerate() {
        file.insert(format!("bad-{i}"), shape);
    }
    file.insert(format!("{SECRET} as an id"), json!({"type": "api", "key": SECRET}));
    let file = Value::Object(file);
    write_auth(store, &file);
    let mut inline = out.options("warn");
    inline.env.push(("OPENCODE_AUTH_CONTENT".into(), file.to_string()));
    for (label, opts) in [("auth.json", out.options("warn")), ("OPENCODE_AUTH_CONTENT", inline)] {
        let s = Sidecar::start_with(store, opts);
        eventually("every bad entry is warned about", || {
            let log = std::fs::read_to_string(&s.stderr_path).unwrap();
            (0..malformed_shapes().len()).all(|i| log.contains(&format!("{label} entry bad-{i}")))
                && log.contains("an entry whose provider id")
        });
        let (_, _, stdout, stderr) = s.finish();
        out.keep(format!("sidecar reading malformed {label}: stderr"), stderr);
        out.keep(format!("sidecar reading malformed {label}: stdout"), stdout.join("\n"));
    }
    let doctor_env = out.env_at("warn");
    let o = cli_with(store, &["doctor"], None, &doctor_env);
    let report = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(report.contains("auth.json entry bad-0: expected an object"), "{report}");
    out.keep("doctor on malformed auth.json", report);
    out.keep(
        "doctor on malformed auth.json: stderr",
        String::from_utf8_lossy(&o.stderr),
    );
    for shape in malformed_shapes() {
        let o = cli_with(
            store,
            &["accounts", "add", "openai", "bad"],
            Some(&shape.to_string()),
            &doctor_env,
        );
        assert!(!o.status.success(), "{shape} was refused");
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(err.contains("the credential on standard input"), "{err}");
        out.keep("accounts add of a malformed credential: stderr", err);
        out.keep(
            "accounts add of a malformed credential: stdout",
            String::from_utf8_lossy(&o.stdout),
        );
    }
}
