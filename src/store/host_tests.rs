//! Mirroring opencode 2's credentials: added, removed, renamed, state kept by credential id.

use super::*;
use crate::store::{FailureCount, RuntimePatch};

fn cred(id: &str, provider: &str, label: &str, active: bool) -> HostCredential {
    HostCredential {
        id: id.into(),
        provider_id: provider.into(),
        label: label.into(),
        kind: "key".into(),
        method: None,
        active,
        created_at: 0,
    }
}

/// `(provider, alias, credential id)` of an account.
type Named = (String, String, Option<String>);

/// Every account, and each provider's active alias.
fn accounts(s: &Store) -> (Vec<Named>, Vec<(String, String)>) {
    let snap = s.load_snapshot(None).unwrap();
    let list = snap
        .accounts
        .iter()
        .map(|a| {
            (
                a.provider_id.clone(),
                a.alias.clone(),
                a.auth.host_credential().map(str::to_string),
            )
        })
        .collect();
    let mut active: Vec<_> = snap.active.into_iter().collect();
    active.sort();
    (list, active)
}

fn row(p: &str, a: &str, id: Option<&str>) -> Named {
    (p.into(), a.into(), id.map(str::to_string))
}

#[test]
fn each_credential_becomes_an_account_with_no_secret_and_the_active_one_is_active() {
    let mut s = Store::open_in_memory().unwrap();
    let out = s
        .mirror_host_credentials(
            &[
                cred("cred_a", "mock", "alpha", false),
                cred("cred_b", "mock", "Bravo Two", true),
            ],
            5,
        )
        .unwrap();
    assert_eq!(out.added.len(), 2);
    let (list, active) = accounts(&s);
    assert_eq!(
        list,
        [
            row("mock", "alpha", Some("cred_a")),
            row("mock", "bravo-two", Some("cred_b"))
        ]
    );
    assert_eq!(active, [("mock".to_string(), "bravo-two".to_string())]);
    let stored: Vec<String> = s
        .conn
        .prepare("SELECT auth_json || owner FROM accounts")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(
        stored[0],
        r#"{"type":"opencode2","credentialID":"cred_a","kind":"key"}opencode2"#
    );
    assert!(s
        .load_snapshot(None)
        .unwrap()
        .priority
        .iter()
        .any(|p| p.provider_id == "mock"));
}

#[test]
fn a_removed_credential_disappears_with_its_state_and_an_added_one_appears() {
    let mut s = Store::open_in_memory().unwrap();
    s.mirror_host_credentials(
        &[
            cred("cred_a", "mock", "alpha", true),
            cred("cred_b", "mock", "bravo", false),
        ],
        1,
    )
    .unwrap();
    let out = s
        .mirror_host_credentials(
            &[
                cred("cred_b", "mock", "bravo", false),
                cred("cred_c", "mock", "charlie", false),
            ],
            2,
        )
        .unwrap();
    assert_eq!(out.removed, [("mock".to_string(), "alpha".to_string())]);
    assert_eq!(out.added, [("mock".to_string(), "charlie".to_string())]);
    let (list, active) = accounts(&s);
    assert_eq!(
        list,
        [
            row("mock", "bravo", Some("cred_b")),
            row("mock", "charlie", Some("cred_c"))
        ]
    );
    assert_eq!(
        active,
        [("mock".to_string(), "bravo".to_string())],
        "the next one took over"
    );
    assert!(s
        .mirror_host_credentials(
            &[
                cred("cred_b", "mock", "bravo", false),
                cred("cred_c", "mock", "charlie", false)
            ],
            3
        )
        .unwrap()
        .is_empty());
}

#[test]
fn a_renamed_label_moves_the_account_and_keeps_its_state_by_credential_id() {
    let mut s = Store::open_in_memory().unwrap();
    s.mirror_host_credentials(
        &[
            cred("cred_a", "mock", "alpha", true),
            cred("cred_b", "mock", "bravo", false),
        ],
        1,
    )
    .unwrap();
    let mut patch = RuntimePatch {
        provider_id: "mock".into(),
        alias: "alpha".into(),
        cooldown: Some((Some(10_000), Some(crate::model::CooldownReason::RateLimit))),
        failures: Some(FailureCount::ONE_MORE),
        ..Default::default()
    };
    patch.last_used_at = Some(7);
    s.apply_runtime(&[patch], &[]).unwrap();
    // The two trade names: each keeps its own state.
    let out = s
        .mirror_host_credentials(
            &[
                cred("cred_a", "mock", "bravo", true),
                cred("cred_b", "mock", "alpha", false),
            ],
            2,
        )
        .unwrap();
    assert_eq!(out.renamed.len(), 2);
    let snap = s.load_snapshot(None).unwrap();
    let a = snap
        .accounts
        .iter()
        .find(|a| a.auth.host_credential() == Some("cred_a"))
        .unwrap();
    assert_eq!(
        (a.alias.as_str(), a.failures, a.cooldown_until, a.last_used_at),
        ("bravo", 1, Some(10_000), Some(7))
    );
    let b = snap
        .accounts
        .iter()
        .find(|a| a.auth.host_credential() == Some("cred_b"))
        .unwrap();
    assert_eq!((b.alias.as_str(), b.failures), ("alpha", 0));
    assert_eq!(snap.active["mock"], "bravo", "the active account followed its rename");
}

#[test]
fn the_balancers_own_accounts_are_untouched_and_keep_their_names() {
    let mut s = Store::open_in_memory().unwrap();
    s.save_account("mock", "alpha", &Auth::test_api("sk-FAKE-own"), 1)
        .unwrap();
    s.mirror_host_credentials(
        &[
            cred("cred_a", "mock", "alpha", false),
            cred("cred_b", "mock", "Alpha", false),
        ],
        2,
    )
    .unwrap();
    let (list, active) = accounts(&s);
    assert_eq!(
        list,
        [
            row("mock", "alpha", None),
            row("mock", "alpha-2", Some("cred_a")),
            row("mock", "alpha-3", Some("cred_b")),
        ]
    );
    assert_eq!(
        active,
        [("mock".to_string(), "alpha".to_string())],
        "no active credential in opencode 2: ours stays"
    );
    s.mirror_host_credentials(&[], 3).unwrap();
    assert_eq!(accounts(&s).0, [row("mock", "alpha", None)]);
}

#[test]
fn opencode_2s_active_choice_moves_ours_only_when_it_changes() {
    let mut s = Store::open_in_memory().unwrap();
    let both = |a: bool| [cred("cred_a", "mock", "alpha", a), cred("cred_b", "mock", "bravo", !a)];
    s.mirror_host_credentials(&both(true), 1).unwrap();
    assert_eq!(s.load_snapshot(None).unwrap().active["mock"], "alpha");
    // The balancer failed over to bravo; opencode 2 still shows alpha active: ours stays.
    s.activate("mock", "bravo").unwrap();
    assert!(s.mirror_host_credentials(&both(true), 2).unwrap().activated.is_empty());
    assert_eq!(s.load_snapshot(None).unwrap().active["mock"], "bravo");
    s.activate("mock", "alpha").unwrap();
    // `opencode auth switch mock bravo`: ours follows.
    let out = s.mirror_host_credentials(&both(false), 3).unwrap();
    assert_eq!(out.activated, [("mock".to_string(), "bravo".to_string())]);
    assert_eq!(s.load_snapshot(None).unwrap().active["mock"], "bravo");
}

#[test]
fn long_or_unusable_labels_still_give_valid_unique_aliases() {
    let mut s = Store::open_in_memory().unwrap();
    let long = "x".repeat(64);
    s.mirror_host_credentials(
        &[
            cred("cred_1", "mock", &long, false),
            cred("cred_2", "mock", &long, false),
            cred("cred_3", "mock", "!!!", false),
        ],
        1,
    )
    .unwrap();
    let names: Vec<String> = accounts(&s).0.into_iter().map(|r| r.1).collect();
    for n in &names {
        assert_eq!(normalize_alias(n).as_deref(), Some(n.as_str()), "{n} is a valid alias");
    }
    assert!(names.contains(&"cred_3".to_string()));
    assert!(names.contains(&format!("{}-2", "x".repeat(62))));
}

#[test]
fn a_balancer_credential_is_never_saved_onto_an_opencode_2_account() {
    let mut s = Store::open_in_memory().unwrap();
    s.mirror_host_credentials(&[cred("cred_a", "mock", "alpha", true)], 1)
        .unwrap();
    let err = s
        .save_account("mock", "alpha", &Auth::test_api("sk-FAKE-x"), 2)
        .unwrap_err();
    assert!(err.to_string().contains("is opencode2's credential"), "{err}");
    assert!(!err.to_string().contains("sk-FAKE-x"));
    assert_eq!(accounts(&s).0, [row("mock", "alpha", Some("cred_a"))]);
}

#[test]
fn the_stored_shape_of_an_opencode_2_account_is_never_taken_as_a_credential_from_outside() {
    let stored = r#"{"type":"opencode2","credentialID":"cred_a","kind":"key"}"#;
    assert!(Auth::from_user_input(stored).is_err(), "the CLI's stdin");
    assert!(
        serde_json::from_str::<Auth>(stored).is_err(),
        "auth.json, accounts.save"
    );
    assert_eq!(
        host_auth("someone-else", stored),
        None,
        "an owner this version does not know"
    );
    assert!(host_auth(OWNER, stored).is_some());
}
