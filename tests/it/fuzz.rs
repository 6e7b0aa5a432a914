//! Hostile input, property-based: the framing, the JSON-RPC decoder, the auth.json parser and the
//! reset-time parsers never panic or hang on any input, and their errors never echo a secret.
//! `PROPTEST_CASES` sets how hard (CI runs a larger, time-bounded pass in release).

use std::collections::HashMap;

use opencode_balancer::accounts::rules::cooldown::classify::classify;
use opencode_balancer::accounts::rules::cooldown::reset::{
    body_hint, cooldown_until, parse_go_duration, parse_retry_after, parse_timestamp, MAX_HINT_MS, MIN_COOLDOWN_MS,
};
use opencode_balancer::logins::parse_auth_file;
use opencode_balancer::rpc::framing::{Frame, LineReader};
use opencode_balancer::rpc::wire::{decode, parse_line, Incoming, Parsed};
use proptest::prelude::*;

const NOW: i64 = 1_700_000_000_000;
const SECRET: &str = "sk-test-PROPSECRET-123";

/// JSON-ish text: valid JSON, broken JSON, deep nesting, huge numbers, NUL bytes, secrets.
fn jsonish() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\\[\\]{}\":,0-9a-z\\\\ .eE+-]{0,200}",
        (1usize..3000).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n))),
        (1usize..3000).prop_map(|n| "{\"a\":".repeat(n)),
        Just(format!("{{\"openai\":{{\"type\":\"weird\",\"key\":\"{SECRET}\"}}}}")),
        Just(format!("{{\"openai\":{{\"type\":\"api\",\"key\":{SECRET}}}}}")),
        Just("1e999999".to_string()),
        Just("\u{0}\u{0}{\"jsonrpc\":\"2.0\"}".to_string()),
        Just("{\"jsonrpc\":\"2.0\",\"id\":99999999999999999999999,\"method\":\"x\"}".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn framing_never_panics_and_never_holds_more_than_the_limit(bytes in proptest::collection::vec(any::<u8>(), 0..4096), limit in 1usize..64) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let mut r = LineReader::new(tokio::io::BufReader::with_capacity(7, &bytes[..]), limit);
            let mut frames = 0;
            while let Some(f) = r.next().await.unwrap() {
                frames += 1;
                if let Frame::Line(l) = f {
                    prop_assert!(l.len() <= limit);
                }
                prop_assert!(frames <= bytes.len() + 1);
            }
            Ok(())
        })?;
    }

    #[test]
    fn any_line_decodes_to_a_request_or_a_clear_error_without_the_input(text in jsonish()) {
        let check = |inc: Incoming| match inc {
            Incoming::Request(_) => Ok(()),
            Incoming::Invalid(_, e) => {
                prop_assert!(!e.message.contains(SECRET), "{}", e.message);
                Ok(())
            }
        };
        match parse_line(text.as_bytes()) {
            Ok(Parsed::Single(raw)) => check(decode(raw))?,
            Ok(Parsed::Batch(items)) => {
                for raw in items {
                    check(decode(raw))?;
                }
            }
            Err(e) => prop_assert!(!e.message.contains(SECRET), "{}", e.message),
        }
    }

    #[test]
    fn auth_json_parsing_never_panics_and_never_echoes_a_key(text in jsonish()) {
        if let Err(e) = parse_auth_file(&text) {
            let e = e.to_string();
            prop_assert!(!e.contains(SECRET), "{}", e);
            prop_assert!(!e.is_empty());
        }
    }

    #[test]
    fn reset_parsers_accept_anything_and_cooldowns_stay_in_bounds(
        retry_after in any::<String>(),
        reset in "[0-9hmsu.µn]{0,30}",
        stamp in any::<String>(),
        body in jsonish(),
        failures in any::<u32>(),
        status in any::<u16>(),
    ) {
        let _ = parse_retry_after(&retry_after, NOW);
        let _ = parse_go_duration(&reset);
        let _ = parse_timestamp(&stamp);
        let _ = body_hint(&body, NOW);
        let _ = classify(status, Some(&body));
        let headers: HashMap<String, String> = [
            ("retry-after".to_string(), retry_after),
            ("x-ratelimit-reset-tokens".to_string(), reset),
            ("anthropic-ratelimit-requests-reset".to_string(), stamp),
        ].into();
        let until = cooldown_until(&headers, Some(&body), NOW, failures).until;
        prop_assert!((NOW + MIN_COOLDOWN_MS..=NOW + MAX_HINT_MS).contains(&until), "{}", until - NOW);
    }
}
