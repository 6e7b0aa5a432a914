//! Tests of the hot path's pure choices: plain registry state in, an account or a model out.

use super::*;
use crate::model::{PriorityEntry, Settings};
use crate::store::Snapshot;

const NOW: Millis = 1_000_000;

fn acc(provider: &str, alias: &str) -> Account {
    Account::for_test(provider, alias)
}

fn resting(provider: &str, alias: &str) -> Account {
    Account {
        cooldown_until: Some(NOW + 60_000),
        ..acc(provider, alias)
    }
}

fn entry(provider: &str, model: Option<&str>, enabled: bool) -> PriorityEntry {
    PriorityEntry {
        provider_id: provider.into(),
        position: 0,
        model_id: model.map(str::to_string),
        enabled,
    }
}

fn model(provider: &str, model: &str) -> ModelRef {
    ModelRef {
        provider_id: provider.into(),
        model_id: model.into(),
    }
}

fn state(accounts: Vec<Account>, priority: Vec<PriorityEntry>, settings: Settings) -> RegistryState {
    let mut s = RegistryState::default();
    let snapshot = Snapshot {
        accounts,
        priority,
        settings,
        ..Default::default()
    };
    s.apply_snapshot(snapshot, super::super::state::Scope::All, 0);
    s
}

fn balancing() -> Settings {
    Settings {
        balancing: true,
        ..Settings::default()
    }
}

#[test]
fn a_preferred_healthy_account_is_kept() {
    let mut s = state(vec![acc("p", "a"), acc("p", "b")], vec![], Settings::default());
    let got = pick_account(&mut s, "p", Some("b"), &[], NOW).unwrap();
    assert_eq!(got.alias, "b");
}

#[test]
fn a_preferred_account_that_rests_or_is_excluded_gives_way_to_the_strategy() {
    let mut s = state(vec![acc("p", "a"), resting("p", "b")], vec![], Settings::default());
    assert_eq!(pick_account(&mut s, "p", Some("b"), &[], NOW).unwrap().alias, "a");
    let mut s = state(vec![acc("p", "a"), acc("p", "b")], vec![], Settings::default());
    let exclude = ["b".to_string()];
    assert_eq!(pick_account(&mut s, "p", Some("b"), &exclude, NOW).unwrap().alias, "a");
}

#[test]
fn a_preferred_account_past_the_soft_limit_gives_way_to_one_below_it() {
    let mut full = acc("p", "b");
    let mut usage = crate::model::UsageSnapshot {
        provider_id: "p".into(),
        alias: "b".into(),
        fetched_at: 0,
        confidence: crate::model::Confidence::Exact,
        plan_name: None,
        used_percent: Some(95.0),
        reset_at: None,
        used_units: None,
        remaining_units: None,
        windows: None,
        message: String::new(),
        error: None,
    };
    full.usage = Some(Box::new(usage.clone()));
    let mut s = state(vec![acc("p", "a"), full], vec![], Settings::default());
    assert_eq!(pick_account(&mut s, "p", Some("b"), &[], NOW).unwrap().alias, "a");
    usage.used_percent = Some(50.0);
    s.account_mut("p", "b").unwrap().usage = Some(Box::new(usage));
    assert_eq!(pick_account(&mut s, "p", Some("b"), &[], NOW).unwrap().alias, "b");
}

#[test]
fn round_robin_advances_the_providers_own_cursor() {
    let settings = Settings {
        strategy: Strategy::RoundRobin,
        ..Settings::default()
    };
    let mut s = state(vec![acc("p", "a"), acc("p", "b"), acc("q", "x")], vec![], settings);
    let first = pick_account(&mut s, "p", None, &[], NOW).unwrap().alias;
    assert_eq!(pick_account(&mut s, "q", None, &[], NOW).unwrap().alias, "x");
    let second = pick_account(&mut s, "p", None, &[], NOW).unwrap().alias;
    assert_ne!(first, second, "q's pick did not move p's cursor");
}

#[test]
fn an_unknown_provider_or_one_whose_accounts_all_rest_has_no_pick() {
    let mut s = state(vec![resting("p", "a")], vec![], Settings::default());
    assert!(pick_account(&mut s, "p", None, &[], NOW).is_none());
    assert!(pick_account(&mut s, "nobody", None, &[], NOW).is_none());
}

#[test]
fn the_pick_carries_the_credential_and_its_generation() {
    let mut a = acc("p", "a");
    a.token.generation = 7;
    let mut s = state(vec![a.clone()], vec![], Settings::default());
    let got = pick_account(&mut s, "p", None, &[], NOW).unwrap();
    assert_eq!((got.auth, got.generation), (a.auth, 7));
}

#[test]
fn balancing_keeps_the_sessions_model_while_its_account_is_healthy() {
    let s = state(vec![acc("p", "a"), resting("p", "b")], vec![], balancing());
    let host = model("q", "m2");
    let on_a = (model("p", "m1"), Some("a".to_string()));
    assert_eq!(choose_model(&s, Some(&host), Some(&on_a), NOW), Some(model("p", "m1")));
    let on_b = (model("p", "m1"), Some("b".to_string()));
    assert_eq!(
        choose_model(&s, Some(&host), Some(&on_b), NOW),
        Some(host.clone()),
        "b rests: the host's model, whose provider is not managed here"
    );
}

#[test]
fn balancing_keeps_the_hosts_model_while_its_provider_has_a_healthy_account() {
    let s = state(
        vec![acc("p", "a"), resting("q", "x")],
        vec![entry("q", Some("mq"), true), entry("p", Some("mp"), true)],
        balancing(),
    );
    assert_eq!(
        choose_model(&s, Some(&model("p", "m")), None, NOW),
        Some(model("p", "m"))
    );
}

#[test]
fn balancing_moves_a_dry_provider_to_the_first_enabled_priority_entry_that_can_take_it() {
    let s = state(
        vec![resting("p", "a"), acc("q", "x"), acc("r", "y")],
        vec![
            entry("p", Some("mp"), true),
            entry("q", Some("mq"), false),
            entry("r", None, true),
            entry("q2", Some("m"), true),
            entry("r", Some("mr"), true),
        ],
        balancing(),
    );
    assert_eq!(
        choose_model(&s, Some(&model("p", "m")), None, NOW),
        Some(model("r", "mr"))
    );
}

#[test]
fn balancing_with_nothing_healthy_anywhere_chooses_nothing() {
    let s = state(vec![resting("p", "a")], vec![entry("p", Some("mp"), true)], balancing());
    assert_eq!(choose_model(&s, Some(&model("p", "m")), None, NOW), None);
}

#[test]
fn balancing_off_chooses_a_model_only_when_the_host_sent_none() {
    let s = state(
        vec![resting("p", "a"), acc("q", "x")],
        vec![entry("q", Some("mq"), true)],
        Settings::default(),
    );
    assert_eq!(choose_model(&s, Some(&model("p", "m")), None, NOW), None);
    assert_eq!(choose_model(&s, None, None, NOW), Some(model("q", "mq")));
}

#[test]
fn a_peek_names_the_sessions_account_or_the_sticky_pick_and_steps_no_round_robin() {
    let mut s = state(vec![acc("p", "a"), acc("p", "b")], vec![], Settings::default());
    assert_eq!(peek_account(&s, "p", Some("b"), NOW).unwrap().0.alias, "b");
    assert_eq!(peek_account(&s, "p", None, NOW).unwrap().0.alias, "a");
    s.settings.strategy = Strategy::RoundRobin;
    assert!(
        peek_account(&s, "p", None, NOW).is_none(),
        "a round-robin step is not a peek"
    );
    assert_eq!(
        peek_account(&s, "p", Some("b"), NOW).unwrap().0.alias,
        "b",
        "the session's own account"
    );
    assert!(s.rr_cursors.get("p").is_none_or(|c| *c == 0), "the cursor did not move");
}

#[test]
fn a_pick_stands_until_the_cap_the_first_cooldown_end_or_the_picked_tokens_refresh() {
    let s = state(vec![acc("p", "a"), resting("p", "b")], vec![], Settings::default());
    assert_eq!(
        peek_account(&s, "p", None, NOW).unwrap().1,
        NOW + 60_000,
        "b rests exactly the cap"
    );
    let mut short = resting("p", "b");
    short.cooldown_until = Some(NOW + 5_000);
    let s = state(vec![acc("p", "a"), short], vec![], Settings::default());
    assert_eq!(peek_account(&s, "p", None, NOW).unwrap().1, NOW + 5_000);
    let mut oauth = acc("p", "a");
    oauth.auth = Auth::Oauth {
        refresh: "r-test-FAKE".into(),
        access: "a-test-FAKE".into(),
        expires: NOW + 90_000,
        account_id: None,
        enterprise_url: None,
        metadata: None,
    };
    let s = state(vec![oauth], vec![], Settings::default());
    assert_eq!(
        peek_account(&s, "p", None, NOW).unwrap().1,
        NOW + 30_000,
        "refreshed before use a minute before expiry"
    );
}

#[test]
fn a_pick_that_keeps_the_sessions_account_stands_whatever_the_others_do() {
    let mut short = resting("p", "b");
    short.cooldown_until = Some(NOW + 5_000);
    let s = state(vec![acc("p", "a"), short, acc("p", "c")], vec![], Settings::default());
    let (picked, until) = peek_account(&s, "p", Some("c"), NOW).unwrap();
    assert_eq!(
        (picked.alias.as_str(), until),
        ("c", NOW + 60_000),
        "the session's own account is kept while usable: b's return changes nothing"
    );
    let (picked, until) = peek_account(&s, "p", None, NOW).unwrap();
    assert_eq!(
        (picked.alias.as_str(), until),
        ("a", NOW + 5_000),
        "a pick made among the accounts stands only until one of them comes back"
    );
}
