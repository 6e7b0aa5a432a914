//! Test helpers for the continuity rules: recorded-shape bodies under `fixtures/continuity/` and
//! an edit checked for what every edit must be (valid JSON, deterministic, done in one pass).

use super::{strip_foreign_state, Api, Edit, Scope};

/// A body from `fixtures/continuity/<name>`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/continuity/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).expect("valid JSON")
}

/// The edited body, checked: it is valid JSON, the same input gives the same bytes, and editing
/// the result again changes nothing (a moved conversation is edited the same way every time).
pub fn edited(api: Api, body: &[u8], scope: Scope) -> Vec<u8> {
    let Edit::Edited { body: out, removed } = strip_foreign_state(api, body, scope) else {
        panic!("expected an edit of {}", String::from_utf8_lossy(body));
    };
    assert!(removed > 0);
    json(&out);
    assert_eq!(
        strip_foreign_state(api, body, scope),
        Edit::Edited {
            body: out.clone(),
            removed
        },
        "deterministic"
    );
    assert_eq!(strip_foreign_state(api, &out, scope), Edit::Unchanged, "idempotent");
    out
}
