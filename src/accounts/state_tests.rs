//! Tests of the registry's memory: which snapshot replaces what, and the bookkeeping not yet
//! written laid over it.

use super::*;
use crate::model::CooldownReason;
use crate::store::FailureCount;

fn acc(p: &str, a: &str) -> Account {
    Account::for_test(p, a)
}

fn snap(accounts: Vec<Account>) -> Snapshot {
    Snapshot {
        accounts,
        ..Default::default()
    }
}

#[test]
fn an_older_snapshot_never_replaces_a_newer_one_of_the_same_provider() {
    let mut s = RegistryState::default();
    s.apply_snapshot(snap(vec![acc("p", "a"), acc("p", "b")]), Scope::Provider("p"), 5);
    s.apply_snapshot(snap(vec![acc("q", "x")]), Scope::Provider("q"), 6);
    s.apply_snapshot(snap(vec![acc("p", "a")]), Scope::Provider("p"), 4);
    assert_eq!(s.account_count(), 3, "p's gen-4 read is older than its gen-5 read");
    s.apply_snapshot(snap(vec![acc("p", "a")]), Scope::All, 3);
    assert_eq!(
        s.account_count(),
        3,
        "a whole read older than each provider's changes nothing"
    );
    s.apply_snapshot(snap(vec![acc("p", "a")]), Scope::All, 7);
    assert_eq!(s.account_count(), 1);
}

#[test]
fn queued_changes_survive_a_snapshot_read_before_they_were_written() {
    let mut s = RegistryState::default();
    s.apply_snapshot(snap(vec![acc("p", "a")]), Scope::All, 1);
    s.patch(RuntimePatch {
        provider_id: "p".into(),
        alias: "a".into(),
        cooldown: Some((Some(99), None)),
        ..Default::default()
    });
    let flush = s.take_flush();
    s.apply_snapshot(snap(vec![acc("p", "a")]), Scope::Provider("p"), 2);
    assert_eq!(s.account("p", "a").unwrap().cooldown_until, Some(99));
    s.settle_flush(flush.id, true);
    assert!(!s.has_pending_flush());
}

#[test]
fn a_users_reset_read_from_the_store_drops_bookkeeping_queued_before_it_but_not_the_last_use() {
    let mut s = RegistryState::default();
    s.apply_snapshot(snap(vec![acc("p", "a")]), Scope::All, 1);
    s.patch(RuntimePatch {
        cooldown: Some((Some(99), Some(CooldownReason::RateLimit))),
        failures: Some(FailureCount::ONE_MORE),
        last_used_at: Some(5),
        ..RuntimePatch::for_account(&acc("p", "a"))
    });
    let reset = Account {
        reset_epoch: 1,
        ..acc("p", "a")
    };
    s.apply_snapshot(snap(vec![reset.clone()]), Scope::Provider("p"), 2);
    let a = s.account("p", "a").unwrap();
    assert_eq!((a.cooldown_until, a.failures, a.last_used_at), (None, 0, Some(5)));
    s.patch(RuntimePatch {
        failures: Some(FailureCount::ONE_MORE),
        ..RuntimePatch::for_account(&reset)
    });
    let queued = &s.take_flush().patches[0];
    assert_eq!((queued.epoch, queued.cooldown), (1, None), "the stale cooldown is gone");
    assert_eq!(queued.failures, Some(FailureCount::ONE_MORE));
    assert_eq!(queued.last_used_at, Some(5));
}

#[test]
fn a_users_activation_read_from_the_store_wins_over_a_failover_queued_before_it() {
    let mut s = RegistryState::default();
    let both = || snap(vec![acc("p", "a"), acc("p", "b")]);
    s.apply_snapshot(both(), Scope::All, 1);
    s.set_active_runtime("p", "b");
    let activated = Snapshot {
        active: [("p".to_string(), "a".to_string())].into(),
        active_epochs: [("p".to_string(), 1)].into(),
        ..both()
    };
    s.apply_snapshot(activated, Scope::Provider("p"), 2);
    assert_eq!(s.active["p"], "a");
    assert_eq!(s.take_flush().actives[0].epoch, 0, "the store refuses it too");
}

#[test]
fn a_read_of_some_accounts_replaces_those_alone_and_lays_their_unwritten_bookkeeping_over_them_once() {
    let mut s = RegistryState::default();
    s.apply_snapshot(
        snap(vec![acc("p", "a"), acc("p", "b"), acc("p", "gone")]),
        Scope::All,
        1,
    );
    for alias in ["a", "b"] {
        s.patch(RuntimePatch {
            failures: Some(FailureCount::ONE_MORE),
            ..RuntimePatch::for_account(&acc("p", alias))
        });
    }
    let flush = s.take_flush();
    let read = ["b".to_string(), "new".to_string(), "gone".to_string()];
    s.apply_snapshot(
        snap(vec![acc("p", "b"), acc("p", "new")]),
        Scope::Accounts("p", &read),
        2,
    );
    assert_eq!(
        failures(&s, "a"),
        Some(1),
        "not read: its bookkeeping is not laid over it again"
    );
    assert_eq!(
        failures(&s, "b"),
        Some(1),
        "read before the flush was written: laid over it"
    );
    assert_eq!(failures(&s, "new"), Some(0));
    assert_eq!(failures(&s, "gone"), None, "read and absent: removed");
    s.settle_flush(flush.id, true);
    s.apply_snapshot(snap(vec![acc("p", "a")]), Scope::Accounts("p", &["a".to_string()]), 0);
    assert_eq!(
        failures(&s, "a"),
        Some(1),
        "a read older than the provider's last changes nothing"
    );
}

fn failures(s: &RegistryState, alias: &str) -> Option<u32> {
    s.account("p", alias).map(|a| a.failures)
}

#[test]
fn a_value_kept_by_revision_is_computed_once_per_revision() {
    let mut kept = ByRevision::default();
    let mut computed = 0;
    for revision in [1, 1, 1, 2, 2, 1] {
        kept.get(revision, || {
            computed += 1;
            revision * 10
        });
    }
    assert_eq!(computed, 3, "1, then 2, then 1 again");
    assert_eq!(*kept.get(1, || unreachable!()), 10);
}
