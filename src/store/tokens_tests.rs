//! Tests of the refresh lease and the compare-and-swap commit, with two connections on one file.

use super::*;
use crate::model::Auth;

const NOW: Millis = 1_700_000_000_000;

fn oauth(refresh: &str, expires: Millis) -> Auth {
    Auth::Oauth {
        refresh: format!("rt-FAKE-{refresh}"),
        access: format!("at-FAKE-{refresh}"),
        expires,
        account_id: None,
        enterprise_url: None,
        metadata: None,
    }
}

fn two_connections() -> (tempfile::TempDir, Store, Store) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    let mut a = Store::open(&path).unwrap();
    a.save_account("anthropic", "max", &oauth("1", NOW + 30_000), NOW)
        .unwrap();
    let b = Store::open(&path).unwrap();
    (dir, a, b)
}

fn generation(s: &Store) -> u64 {
    let snap = s.load_snapshot(Some("anthropic")).unwrap();
    snap.accounts[0].token.generation
}

#[test]
fn one_lease_at_a_time_and_the_loser_waits_until_it_is_committed() {
    let (_d, mut a, mut b) = two_connections();
    let g = generation(&a);
    let Lease::Taken { auth, generation, .. } = a
        .take_refresh_lease("anthropic", "max", g, "pa", NOW, LEASE_TTL_MS)
        .unwrap()
    else {
        panic!("the first asker gets the lease")
    };
    assert_eq!((auth, generation), (oauth("1", NOW + 30_000), g));
    assert_eq!(
        b.take_refresh_lease("anthropic", "max", g, "pb", NOW + 1, LEASE_TTL_MS)
            .unwrap(),
        Lease::Held {
            until: NOW + LEASE_TTL_MS
        }
    );
    let new = oauth("2", NOW + 3_600_000);
    assert_eq!(
        a.commit_refresh("anthropic", "max", g, "pa", &new, NOW + 2).unwrap(),
        Committed::Saved { generation: g + 1 }
    );
    assert_eq!(
        b.take_refresh_lease("anthropic", "max", g, "pb", NOW + 3, LEASE_TTL_MS)
            .unwrap(),
        Lease::Moved {
            auth: new.clone(),
            generation: g + 1
        },
        "the loser uses the winner's result and never refreshes the spent token"
    );
    let snap = b.load_snapshot(None).unwrap();
    assert_eq!(snap.accounts.len(), 1);
    assert_eq!(snap.accounts[0].auth, new);
    assert_eq!(snap.accounts[0].token.refreshed_at, Some(NOW + 2));
}

#[test]
fn a_lease_whose_holder_died_is_taken_over_once_it_expired() {
    let (_d, mut a, mut b) = two_connections();
    let g = generation(&a);
    assert!(matches!(
        a.take_refresh_lease("anthropic", "max", g, "dead", NOW, LEASE_TTL_MS)
            .unwrap(),
        Lease::Taken { .. }
    ));
    drop(a);
    assert!(matches!(
        b.take_refresh_lease("anthropic", "max", g, "pb", NOW + LEASE_TTL_MS - 1, LEASE_TTL_MS)
            .unwrap(),
        Lease::Held { .. }
    ));
    assert!(matches!(
        b.take_refresh_lease("anthropic", "max", g, "pb", NOW + LEASE_TTL_MS, LEASE_TTL_MS)
            .unwrap(),
        Lease::Taken { .. }
    ));
}

#[test]
fn a_commit_under_a_lease_taken_over_is_refused_and_shows_the_row() {
    let (_d, mut a, mut b) = two_connections();
    let g = generation(&a);
    a.take_refresh_lease("anthropic", "max", g, "slow", NOW, LEASE_TTL_MS)
        .unwrap();
    b.take_refresh_lease("anthropic", "max", g, "pb", NOW + LEASE_TTL_MS, LEASE_TTL_MS)
        .unwrap();
    let theirs = oauth("b", NOW + 3_600_000);
    b.commit_refresh("anthropic", "max", g, "pb", &theirs, NOW + LEASE_TTL_MS)
        .unwrap();
    assert_eq!(
        a.commit_refresh(
            "anthropic",
            "max",
            g,
            "slow",
            &oauth("a", NOW + 3_600_000),
            NOW + 31_000
        )
        .unwrap(),
        Committed::Lost {
            auth: theirs,
            generation: g + 1
        }
    );
}

#[test]
fn a_rotated_refresh_token_keeps_one_account_and_auth_json_showing_it_changes_nothing() {
    let (_d, mut a, _b) = two_connections();
    let g = generation(&a);
    a.take_refresh_lease("anthropic", "max", g, "pa", NOW, LEASE_TTL_MS)
        .unwrap();
    let new = oauth("rotated", NOW + 3_600_000);
    a.commit_refresh("anthropic", "max", g, "pa", &new, NOW).unwrap();
    assert_eq!(
        a.capture("anthropic", &new, true, "auth.json", NOW + 1).unwrap(),
        crate::store::Captured::Unchanged { alias: "max".into() },
        "the sidecar's own sync, seen in auth.json, is the same account"
    );
    assert_eq!(
        a.capture("anthropic", &oauth("1", NOW + 30_000), true, "auth.json", NOW + 2)
            .unwrap(),
        crate::store::Captured::Unchanged { alias: "max".into() },
        "auth.json still showing the spent credential is not a new login either"
    );
    assert_eq!(a.load_snapshot(None).unwrap().accounts.len(), 1);
}

#[test]
fn login_required_is_marked_on_the_generation_seen_and_a_new_login_clears_it() {
    let (_d, mut a, _b) = two_connections();
    let g = generation(&a);
    a.take_refresh_lease("anthropic", "max", g, "pa", NOW, LEASE_TTL_MS)
        .unwrap();
    a.release_refresh_lease("anthropic", "max", g, "pa", true).unwrap();
    let acc = a.load_snapshot(None).unwrap().accounts.remove(0);
    assert!(acc.token.login_required);
    assert!(!acc.is_healthy(NOW), "skipped like a disabled account");
    assert!(acc.view(true, NOW).login_required);
    a.save_account("anthropic", "max", &oauth("relogin", NOW + 3_600_000), NOW)
        .unwrap();
    let acc = a.load_snapshot(None).unwrap().accounts.remove(0);
    assert!(!acc.token.login_required);
    assert_eq!(acc.token.generation, g + 1);
}

#[test]
fn an_older_token_seen_in_auth_json_does_not_replace_a_refreshed_one() {
    let mut s = Store::open_in_memory().unwrap();
    let with_id = |r: &str, expires| Auth::Oauth {
        refresh: format!("rt-FAKE-{r}"),
        access: format!("at-FAKE-{r}"),
        expires,
        account_id: Some("acct-FAKE".into()),
        enterprise_url: None,
        metadata: None,
    };
    s.capture("openai", &with_id("1", NOW + 1_000), true, "auth.json", NOW)
        .unwrap();
    s.capture("openai", &with_id("2", NOW + 9_000), true, "auth.json", NOW)
        .unwrap();
    assert!(matches!(
        s.capture("openai", &with_id("1", NOW + 1_000), true, "auth.json", NOW)
            .unwrap(),
        crate::store::Captured::Unchanged { .. }
    ));
    assert_eq!(
        s.load_snapshot(None).unwrap().accounts[0].auth,
        with_id("2", NOW + 9_000)
    );
}
