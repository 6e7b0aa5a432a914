//! Hostile payloads for every usage parser: any JSON (fields of the right names holding values of
//! any type, deep nesting, huge numbers) and any headers give a reading or nothing, never a panic.

use proptest::prelude::*;
use serde_json::{Map, Value};

/// Field names the parsers look for, so random payloads reach their inner branches.
const KEYS: &[&str] = &[
    "plan_type",
    "rate_limit",
    "primary_window",
    "secondary_window",
    "used_percent",
    "reset_at",
    "reset_after_seconds",
    "limit_window_seconds",
    "five_hour",
    "seven_day",
    "seven_day_opus",
    "utilization",
    "resets_at",
    "limits",
    "kind",
    "percent",
    "login",
    "copilot_plan",
    "quota_snapshots",
    "premium_interactions",
    "entitlement",
    "remaining",
    "percent_remaining",
    "unlimited",
    "quota_reset_date",
    "usageItems",
    "netQuantity",
    "grossQuantity",
    "data",
    "results",
    "input_tokens",
    "output_tokens",
    "num_model_requests",
    "seat_breakdown",
    "total",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        Just(serde_json::json!(1e308)),
        Just(serde_json::json!(u64::MAX)),
        ".{0,20}".prop_map(Value::String),
        Just(Value::String("2025-13-45T99:99:99Z".into())),
    ]
}

fn payload() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<Map<_, _>>())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_usage_parser_takes_any_payload(v in payload(), now in 0i64..4_000_000_000_000) {
        let _ = super::anthropic::parse(v.clone());
        let _ = super::openai_oauth::parse(v.clone(), now);
        let _ = super::openai_api::parse(v.clone(), now);
        let _ = super::copilot::parse_internal(&v);
        let _ = super::copilot::parse_org(&v, "acme");
        let _ = super::copilot::parse_billing(&v);
    }

    #[test]
    fn passive_headers_take_any_values(
        headers in prop::collection::vec(("(x-ratelimit-(remaining|limit|reset)-(requests|tokens)|anthropic-ratelimit-unified-[a-z0-9-]{0,20})", ".{0,40}"), 0..12),
        now in 0i64..4_000_000_000_000,
    ) {
        let _ = crate::usage::passive::parse(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())), now);
    }
}
