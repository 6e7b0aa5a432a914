//! Unit tests of the settings: defaults, loose values, ranges, stored pairs and wire form.

use super::*;
use serde_json::json;

fn set(s: &mut Settings, key: &str, value: serde_json::Value) -> Result<(), SettingsError> {
    let loose: LooseValue = serde_json::from_value(value).unwrap();
    s.apply(Setting::parse(key, &loose)?)
}

#[test]
fn defaults_match_the_protocol_byte_for_byte_through_a_json_value() {
    // The wire encodes results through a JSON value (members in name order), as before the
    // typed struct: these are the bytes docs/protocol.md shows for the defaults.
    let wire = serde_json::to_value(Settings::default()).unwrap().to_string();
    assert_eq!(
        wire,
        r#"{"autoSave":true,"balancing":false,"eventsMaxAgeDays":30,"eventsMaxRows":10000,"failover":true,"maxAttempts":3,"maxWaitSeconds":60,"softLimitPercent":90,"strategy":"sticky","usageEnabled":true,"usageIntervalSeconds":60}"#
    );
}

#[test]
fn every_key_has_one_setting_and_all_lists_them_in_name_order() {
    let keys: Vec<&str> = Settings::default().all().iter().map(Setting::key).collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(keys, sorted);
    let mut known = Settings::KEYS.to_vec();
    known.sort_unstable();
    assert_eq!(keys, known);
}

#[test]
fn out_of_range_and_unknown_change_nothing() {
    let mut s = Settings::default();
    assert!(set(&mut s, "maxAttempts", json!(11)).is_err());
    assert!(set(&mut s, "softLimitPercent", json!(49)).is_err());
    assert!(set(&mut s, "usageIntervalSeconds", json!(9)).is_err());
    assert!(set(&mut s, "strategy", json!("random")).is_err());
    assert!(matches!(
        set(&mut s, "nope", json!(1)),
        Err(SettingsError::UnknownKey(_))
    ));
    assert_eq!(s, Settings::default());
    set(&mut s, "strategy", json!("round-robin")).unwrap();
    assert_eq!(s.strategy, Strategy::RoundRobin);
}

#[test]
fn loose_values_are_read_as_the_key_needs_and_other_shapes_are_refused_by_the_key() {
    let mut s = Settings::default();
    set(&mut s, "failover", json!("off")).unwrap();
    set(&mut s, "maxAttempts", json!("7")).unwrap();
    assert!((!s.failover, s.max_attempts) == (true, 7));
    for bad in [
        json!(4.5),
        json!(null),
        json!([1]),
        json!({"n": 1}),
        json!(u64::MAX),
        json!("on"),
    ] {
        let e = set(&mut s, "maxAttempts", bad.clone()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value for 'maxAttempts': a whole number from 1 to 10",
            "{bad}"
        );
    }
    let e = set(&mut s, "balancing", json!(1)).unwrap_err();
    assert_eq!(e.to_string(), "invalid value for 'balancing': true or false");
    assert_eq!(s.max_attempts, 7);
}

#[test]
fn typed_settings_are_range_checked_and_keep_their_wire_form() {
    let mut s = Settings::default();
    assert!(s.apply(Setting::MaxAttempts(11)).is_err());
    assert_eq!(s, Settings::default());
    s.apply(Setting::from_text("failover", "off").unwrap()).unwrap();
    assert!(!s.failover);
    let wire = serde_json::to_value(Setting::MaxAttempts(4)).unwrap();
    assert_eq!(wire, json!({"key": "maxAttempts", "value": 4}));
    assert_eq!(Setting::from_text("maxAttempts", "4").unwrap(), Setting::MaxAttempts(4));
    assert_eq!(
        Setting::from_text("strategy", "quota").unwrap(),
        Setting::Strategy(Strategy::Quota)
    );
    assert_eq!(
        Setting::from_text("strategy", "\"lru\"").unwrap(),
        Setting::Strategy(Strategy::Lru)
    );
}

#[test]
fn stored_and_shown_forms() {
    let quota = Setting::Strategy(Strategy::Quota);
    assert_eq!(
        (quota.stored().as_str(), quota.shown().as_str()),
        ("\"quota\"", "quota")
    );
    assert_eq!(Setting::Balancing(true).stored(), "true");
    assert_eq!(Settings::default().shown("maxWaitSeconds").as_deref(), Some("60"));
    assert_eq!(Settings::default().shown("colour"), None);
}

#[test]
fn pairs_round_trip_and_a_broken_stored_value_keeps_its_default() {
    let mut s = Settings::default();
    set(&mut s, "maxAttempts", json!(5)).unwrap();
    set(&mut s, "balancing", json!(true)).unwrap();
    set(&mut s, "strategy", json!("lru")).unwrap();
    let pairs = s.to_pairs();
    let back = Settings::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    assert_eq!(back, s);
    let broken = Settings::from_pairs([("maxAttempts", "{"), ("colour", "1"), ("failover", "2")]);
    assert_eq!(broken, Settings::default());
}
