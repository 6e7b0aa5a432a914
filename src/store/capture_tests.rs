//! Capture tests: a credential updates its account, is saved new, or waits as a pending connection.

use super::*;

fn api(k: &str) -> Auth {
    Auth::test_api(k)
}

#[test]
fn a_new_key_is_saved_as_provider_n_and_the_same_key_is_unchanged() {
    let mut s = Store::open_in_memory().unwrap();
    assert_eq!(
        s.capture("openai", &api("k1"), true, "auth.json", 1).unwrap(),
        Captured::Saved {
            alias: "openai-1".into()
        }
    );
    assert_eq!(
        s.capture("openai", &api("k1"), true, "auth.json", 2).unwrap(),
        Captured::Unchanged {
            alias: "openai-1".into()
        }
    );
    assert_eq!(
        s.capture("openai", &api("k2"), true, "auth.json", 3).unwrap(),
        Captured::Saved {
            alias: "openai-2".into()
        }
    );
}

#[test]
fn a_refreshed_oauth_token_updates_the_account_it_belongs_to() {
    let mut s = Store::open_in_memory().unwrap();
    let a1 = Auth::Oauth {
        refresh: "r1".into(),
        access: "a1".into(),
        expires: 1,
        account_id: Some("acct".into()),
        enterprise_url: None,
        metadata: None,
    };
    let a2 = Auth::Oauth {
        refresh: "r2".into(),
        access: "a2".into(),
        expires: 2,
        account_id: Some("acct".into()),
        enterprise_url: None,
        metadata: None,
    };
    assert_eq!(
        s.capture("openai", &a1, true, "auth.json", 1).unwrap(),
        Captured::Saved { alias: "acct".into() }
    );
    assert_eq!(
        s.capture("openai", &a2, true, "auth.json", 2).unwrap(),
        Captured::Updated { alias: "acct".into() }
    );
    let snap = s.load_snapshot(None).unwrap();
    assert_eq!(snap.accounts.len(), 1);
    assert_eq!(snap.accounts[0].auth, a2);
}

#[test]
fn with_auto_save_off_a_login_is_pending_once() {
    let mut s = Store::open_in_memory().unwrap();
    let Captured::Pending { id } = s.capture("anthropic", &api("k"), false, "auth.json", 1).unwrap() else {
        panic!()
    };
    assert_eq!(
        s.capture("anthropic", &api("k"), false, "auth.json", 2).unwrap(),
        Captured::AlreadyPending { id: id.clone() }
    );
    assert_eq!(s.list_pending().unwrap().len(), 1);
    s.save_pending(&id, "mine", 3).unwrap();
    assert!(s.list_pending().unwrap().is_empty());
    assert_eq!(
        s.capture("anthropic", &api("k"), false, "auth.json", 4).unwrap(),
        Captured::Unchanged { alias: "mine".into() }
    );
}

fn claude(refresh: &str, expires: Millis) -> Auth {
    Auth::Oauth {
        refresh: refresh.into(),
        access: format!("sk-ant-oat01-{refresh}"),
        expires,
        account_id: None,
        enterprise_url: None,
        metadata: None,
    }
}

fn hint(subject: Option<&str>, previous: Option<&Auth>) -> BTreeMap<String, CaptureHint> {
    BTreeMap::from([(
        "anthropic".to_string(),
        CaptureHint {
            subject: subject.map(str::to_string),
            email: Some("max@example.com".into()),
            previous: previous.cloned(),
        },
    )])
}

fn capture(s: &mut Store, auth: &Auth, hints: &BTreeMap<String, CaptureHint>, now: Millis) -> Captured {
    let entries = [("anthropic".to_string(), auth.clone())];
    s.capture_all(&entries, hints, true, "auth.json", now)
        .unwrap()
        .remove(0)
        .1
}

const NOW: Millis = 1_700_000_000_000;

#[test]
fn a_rotated_claude_login_is_linked_by_its_profile_subject() {
    let mut s = Store::open_in_memory().unwrap();
    let first = claude("rt-FAKE-1", NOW + 3_600_000);
    assert_eq!(
        capture(&mut s, &first, &hint(Some("claude:u1/o1"), None), NOW),
        Captured::Saved {
            alias: "max-example.com".into()
        },
        "named from the profile's email"
    );
    // Rotated hours before expiry (another tool refreshed it): the profile alone decides.
    let second = claude("rt-FAKE-2", NOW + 7_200_000);
    assert_eq!(
        capture(&mut s, &second, &hint(Some("claude:u1/o1"), None), NOW),
        Captured::Linked {
            alias: "max-example.com".into(),
            by: LinkedBy::Profile
        }
    );
    let snap = s.load_snapshot(None).unwrap();
    assert_eq!(snap.accounts.len(), 1);
    assert_eq!(snap.accounts[0].auth, second);
    // Another person's login replacing it in auth.json is another account, even when the
    // replaced token had expired.
    let other = claude("rt-FAKE-other", NOW + 3_600_000);
    assert!(matches!(
        capture(
            &mut s,
            &other,
            &hint(Some("claude:u2/o2"), Some(&claude("rt-FAKE-2", NOW - 1))),
            NOW
        ),
        Captured::Saved { .. }
    ));
    assert_eq!(s.load_snapshot(None).unwrap().accounts.len(), 2);
}

#[test]
fn without_a_profile_only_the_replaced_expiring_credential_links() {
    let mut s = Store::open_in_memory().unwrap();
    let old = claude("rt-FAKE-old", NOW + 60_000);
    assert!(matches!(
        capture(&mut s, &old, &hint(None, None), NOW),
        Captured::Saved { .. }
    ));
    let new = claude("rt-FAKE-new", NOW + 8 * 3_600_000);
    assert_eq!(
        capture(&mut s, &new, &hint(None, Some(&old)), NOW),
        Captured::Linked {
            alias: "max-example.com".into(),
            by: LinkedBy::PreviousEntry
        }
    );
    // The replaced token had hours left: that is a new login, not a refresh.
    let fresh = claude("rt-FAKE-fresh", NOW + 8 * 3_600_000);
    assert!(matches!(
        capture(&mut s, &fresh, &hint(None, Some(&new)), NOW),
        Captured::Saved { .. }
    ));
    assert_eq!(s.load_snapshot(None).unwrap().accounts.len(), 2);
}

#[test]
fn a_replaced_credential_whose_account_has_another_subject_is_not_linked() {
    let mut s = Store::open_in_memory().unwrap();
    let old = claude("rt-FAKE-a", NOW - 1);
    capture(&mut s, &old, &hint(Some("claude:u1/o1"), None), NOW);
    let new = claude("rt-FAKE-b", NOW + 3_600_000);
    assert!(matches!(
        capture(&mut s, &new, &hint(Some("claude:u9/o9"), Some(&old)), NOW),
        Captured::Saved { .. }
    ));
    assert_eq!(s.load_snapshot(None).unwrap().accounts.len(), 2);
}

#[test]
fn an_unreadable_profile_never_links_a_login_to_an_account_whose_subject_is_known() {
    let mut s = Store::open_in_memory().unwrap();
    let mine = claude("rt-FAKE-mine", NOW + 60_000);
    capture(&mut s, &mine, &hint(Some("claude:u1/o1"), None), NOW);
    // Someone else's login replaces my expiring one while the profile cannot be read: the
    // replaced credential is no proof against a subject the account has.
    let theirs = claude("rt-FAKE-theirs", NOW + 8 * 3_600_000);
    let entries = [("anthropic".to_string(), theirs.clone())];
    let got = s
        .capture_all(&entries, &hint(None, Some(&mine)), false, "auth.json", NOW)
        .unwrap()
        .remove(0)
        .1;
    assert!(matches!(got, Captured::Pending { .. }), "{got:?}");
    let snap = s.load_snapshot(None).unwrap();
    assert_eq!(snap.accounts.len(), 1);
    assert_eq!(snap.accounts[0].auth, mine, "my account keeps my login");
}

#[test]
fn a_known_account_learns_its_subject() {
    let old = claude("rt-FAKE-a", NOW - 1);
    let mut s = Store::open_in_memory().unwrap();
    capture(&mut s, &old, &hint(None, None), NOW);
    assert!(matches!(
        capture(&mut s, &old, &hint(Some("claude:u1/o1"), None), NOW),
        Captured::Unchanged { .. }
    ));
    let rotated = claude("rt-FAKE-c", NOW + 7_200_000);
    assert!(matches!(
        capture(&mut s, &rotated, &hint(Some("claude:u1/o1"), None), NOW),
        Captured::Linked {
            by: LinkedBy::Profile,
            ..
        }
    ));
}
