//! Tests of recording an upstream answer: plain registry state in, the account's health and the
//! verdict out.

use super::*;
use crate::accounts::rules::cooldown::classify::Reason;
use crate::model::{Account, Settings};
use crate::store::Snapshot;

const NOW: Millis = 1_000_000;

fn state(accounts: Vec<Account>) -> RegistryState {
    let mut s = RegistryState::default();
    let snapshot = Snapshot {
        accounts,
        settings: Settings {
            max_attempts: 4,
            ..Settings::default()
        },
        ..Default::default()
    };
    s.apply_snapshot(snapshot, super::super::state::Scope::All, 0);
    s
}

fn answer(status: u16, headers: &[(&str, &str)], body: Option<&str>) -> RecordOutcome {
    RecordOutcome {
        provider_id: "p".into(),
        alias: "a".into(),
        status,
        headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        body: body.map(str::to_string),
    }
}

fn troubled() -> Account {
    Account {
        failures: 2,
        auth_failed: true,
        cooldown_until: Some(NOW - 1),
        cooldown_reason: Some(CooldownReason::RateLimit),
        ..Account::for_test("p", "a")
    }
}

#[test]
fn a_success_clears_past_trouble_and_marks_the_account_used() {
    let mut s = state(vec![troubled()]);
    let info = record(&mut s, &answer(200, &[], None), NOW).unwrap();
    assert_eq!((info.verdict, info.failures, info.until), (Verdict::Success, 0, None));
    let a = s.account("p", "a").unwrap();
    assert_eq!(
        (a.failures, a.auth_failed, a.cooldown_until, a.last_used_at),
        (0, false, None, Some(NOW))
    );
}

#[test]
fn an_answer_about_the_request_itself_changes_nothing_but_the_last_use() {
    let mut s = state(vec![troubled()]);
    let info = record(&mut s, &answer(400, &[], Some("bad request")), NOW).unwrap();
    assert_eq!((info.verdict, info.failures), (Verdict::Return, 2));
    let a = s.account("p", "a").unwrap();
    assert_eq!((a.failures, a.auth_failed, a.last_used_at), (2, true, Some(NOW)));
}

#[test]
fn a_rate_limit_cools_the_account_down_until_its_hint_and_counts_a_failure() {
    let mut s = state(vec![Account::for_test("p", "a")]);
    let info = record(&mut s, &answer(429, &[("retry-after", "30")], None), NOW).unwrap();
    assert_eq!(info.verdict, Verdict::Cooldown(Reason::RateLimit));
    assert_eq!((info.until, info.failures), (Some(NOW + 30_000), 1));
    let a = s.account("p", "a").unwrap();
    assert_eq!(
        (a.cooldown_until, a.cooldown_reason, a.failures),
        (Some(NOW + 30_000), Some(CooldownReason::RateLimit), 1)
    );
    assert!(!a.is_healthy(NOW));
}

#[test]
fn a_quota_refusal_is_recorded_as_quota() {
    let mut s = state(vec![Account::for_test("p", "a")]);
    let info = record(&mut s, &answer(429, &[], Some("insufficient_quota")), NOW).unwrap();
    assert_eq!(info.verdict, Verdict::Cooldown(Reason::Quota));
    assert_eq!(
        s.account("p", "a").unwrap().cooldown_reason,
        Some(CooldownReason::Quota)
    );
}

#[test]
fn a_refused_credential_rests_half_an_hour_and_is_marked() {
    let mut s = state(vec![Account::for_test("p", "a")]);
    let info = record(&mut s, &answer(401, &[], None), NOW).unwrap();
    assert_eq!(
        (info.verdict, info.until),
        (Verdict::AuthFailed, Some(NOW + AUTH_FAILED_COOLDOWN_MS))
    );
    let a = s.account("p", "a").unwrap();
    assert!(a.auth_failed);
    assert_eq!(a.cooldown_reason, Some(CooldownReason::AuthFailed));
}

#[test]
fn the_answer_carries_the_settings_that_decide_the_retry() {
    let mut s = state(vec![Account::for_test("p", "a")]);
    let info = record(&mut s, &answer(503, &[], None), NOW).unwrap();
    assert_eq!((info.failover, info.max_attempts), (true, 4));
}

#[test]
fn an_answer_on_an_unknown_account_records_nothing() {
    let mut s = state(vec![]);
    assert!(record(&mut s, &answer(429, &[], None), NOW).is_none());
}
