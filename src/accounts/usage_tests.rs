//! Tests of what a usage snapshot does to an account's cooldown.

use super::*;

const NOW: Millis = 1_700_000_000_000;

fn account(until: Option<Millis>, reason: Option<&str>) -> Account {
    Account {
        auth: Auth::Api {
            key: "sk-fake-usage".into(),
            metadata: None,
        },
        cooldown_until: until,
        cooldown_reason: reason.map(|r| r.parse().unwrap()),
        failures: 2,
        ..Account::for_test("openai", "plan")
    }
}

fn snap(confidence: &str, used: Option<f64>, reset: Option<Millis>) -> UsageSnapshot {
    UsageSnapshot {
        provider_id: "openai".into(),
        alias: "plan".into(),
        fetched_at: NOW,
        confidence: confidence.parse().unwrap(),
        plan_name: None,
        used_percent: used,
        reset_at: reset,
        used_units: None,
        remaining_units: None,
        windows: None,
        message: String::new(),
        error: None,
    }
}

#[test]
fn an_exact_reading_under_100_clears_a_stale_quota_or_rate_limit_cooldown() {
    let s = snap("exact", Some(42.0), None);
    assert_eq!(
        effect(&account(Some(NOW + 1), Some("rate_limit")), &s, NOW),
        Effect::Clear
    );
    assert_eq!(effect(&account(Some(NOW + 1), Some("quota")), &s, NOW), Effect::Clear);
    assert_eq!(effect(&account(Some(NOW + 1), None), &s, NOW), Effect::Clear);
    assert_eq!(
        effect(&account(Some(NOW + 1), Some("auth_failed")), &s, NOW),
        Effect::None
    );
    assert_eq!(
        effect(&account(Some(NOW + 1), Some("server_error")), &s, NOW),
        Effect::None
    );
    assert_eq!(
        effect(&account(Some(NOW), Some("quota")), &s, NOW),
        Effect::None,
        "already over"
    );
    assert_eq!(effect(&account(None, None), &s, NOW), Effect::None);
}

#[test]
fn estimates_errors_and_unknown_percentages_change_nothing() {
    let cooling = account(Some(NOW + 1), Some("quota"));
    assert_eq!(
        effect(&cooling, &snap("estimated", Some(10.0), None), NOW),
        Effect::None
    );
    assert_eq!(effect(&cooling, &snap("exact", None, None), NOW), Effect::None);
    let mut stale = snap("exact", Some(10.0), None);
    stale.error = Some("timeout".into());
    assert_eq!(effect(&cooling, &stale, NOW), Effect::None);
    assert_eq!(
        effect(
            &account(None, None),
            &snap("estimated", Some(100.0), Some(NOW + 5)),
            NOW
        ),
        Effect::None
    );
}

#[test]
fn a_full_reading_with_a_reset_cools_down_until_then() {
    let s = snap("exact", Some(100.0), Some(NOW + 3_600_000));
    assert_eq!(effect(&account(None, None), &s, NOW), Effect::Set(NOW + 3_600_000));
    assert_eq!(
        effect(&account(Some(NOW + 60_000), Some("rate_limit")), &s, NOW),
        Effect::Set(NOW + 3_600_000),
        "a shorter cooldown is extended"
    );
    assert_eq!(
        effect(&account(Some(NOW + 7_200_000), Some("quota")), &s, NOW),
        Effect::None,
        "a longer one is kept"
    );
    assert_eq!(
        effect(&account(None, None), &snap("exact", Some(100.0), None), NOW),
        Effect::None
    );
    assert_eq!(
        effect(&account(None, None), &snap("exact", Some(100.0), Some(NOW - 1)), NOW),
        Effect::None
    );
    let far = snap("exact", Some(100.0), Some(i64::MAX));
    assert_eq!(
        effect(&account(None, None), &far, NOW),
        Effect::Set(NOW + crate::accounts::rules::cooldown::hint::MAX_HINT_MS)
    );
}

fn two_accounts() -> RegistryState {
    let mut s = RegistryState::default();
    let accounts = vec![account(None, None), Account::for_test("openai", "work")];
    let snapshot = crate::store::Snapshot {
        accounts,
        ..Default::default()
    };
    s.apply_snapshot(snapshot, crate::store::Scope::All, 1);
    s
}

#[test]
fn runtime_bookkeeping_keeps_the_accounts_revision_so_the_usage_fingerprint_is_reused() {
    let mut s = two_accounts();
    let (revision, print) = (s.accounts_revision(), fingerprint(&s));
    // What a failover records: a cooldown, a failure, the time of use.
    s.patch(RuntimePatch {
        last_used_at: Some(NOW),
        cooldown: Some((Some(NOW + 60_000), Some(CooldownReason::RateLimit))),
        failures: Some(FailureCount::ONE_MORE),
        ..RuntimePatch::for_account(s.account("openai", "plan").unwrap())
    });
    assert_eq!(s.accounts_revision(), revision, "nothing the fingerprint reads changed");
    assert_eq!(fingerprint(&s), print);
}

#[test]
fn a_changed_credential_or_a_snapshot_moves_the_accounts_revision_and_the_fingerprint_follows() {
    let mut s = two_accounts();
    let (revision, print) = (s.accounts_revision(), fingerprint(&s));
    s.account_mut("openai", "plan").unwrap().auth = Auth::Api {
        key: "sk-fake-usage-new-login".into(),
        metadata: None,
    };
    assert!(s.accounts_revision() > revision, "an account handed out for change");
    assert_ne!(fingerprint(&s), print);
    let revision = s.accounts_revision();
    let snapshot = crate::store::Snapshot {
        accounts: vec![Account::for_test("openai", "plan")],
        ..Default::default()
    };
    s.apply_snapshot(snapshot, crate::store::Scope::All, 2);
    assert!(s.accounts_revision() > revision, "a snapshot applied");
}
