//! Tests of the stream rule over recorded-shape events (Anthropic, ChatGPT / Responses, chat
//! completions, Gemini).

use std::collections::HashMap;

use super::*;
use crate::accounts::rules::cooldown::classify::Reason;
use crate::accounts::rules::cooldown::reset::{cooldown_until, ResetSource};

const MESSAGE_START: &str = r#"{"type":"message_start","message":{"id":"msg_fake","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"usage":{"input_tokens":10,"output_tokens":1}}}"#;
const PING: &str = r#"{"type": "ping"}"#;
const THINKING_START: &str =
    r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}"#;
const THINKING_DELTA: &str =
    r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me read"}}"#;
const RESPONSE_CREATED: &str = r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_fake","object":"response","status":"in_progress","instructions":"You are opencode","output":[]}}"#;
const OVERLOADED: &str = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
const REASONING_ADDED: &str = r#"{"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"id":"rs_fake","type":"reasoning","summary":[]}}"#;

fn error(event: Option<&str>, data: &str) -> StreamError {
    match classify_stream_event(event, data) {
        StreamVerdict::Error(e) => e,
        other => panic!("{data}: {other:?}"),
    }
}

#[test]
fn anthropic_error_events_stand_for_their_status() {
    let cases = [
        ("overloaded_error", 529, Verdict::Cooldown(Reason::RateLimit)),
        ("rate_limit_error", 429, Verdict::Cooldown(Reason::RateLimit)),
        ("api_error", 500, Verdict::Cooldown(Reason::ServerError)),
        ("invalid_request_error", 400, Verdict::Return),
    ];
    for (kind, status, verdict) in cases {
        let data = format!(r#"{{"type":"error","error":{{"type":"{kind}","message":"Overloaded"}}}}"#);
        let e = error(Some("error"), &data);
        assert_eq!((e.status, e.verdict), (status, verdict), "{kind}");
    }
}

#[test]
fn chatgpt_error_events_and_response_failed_stand_for_their_status() {
    let cases = [
        (
            r#"{"type":"error","error":{"type":"service_unavailable_error","code":"server_is_overloaded","message":"Our servers are currently overloaded. Please try again later.","param":null},"sequence_number":2}"#,
            529,
            Verdict::Cooldown(Reason::RateLimit),
        ),
        (
            r#"{"type":"error","error":{"type":"rate_limit_error","code":"rate_limit_exceeded","message":"Rate limit reached for gpt-5 on tokens per min (TPM)."}}"#,
            429,
            Verdict::Cooldown(Reason::RateLimit),
        ),
        (
            r#"{"type":"error","error":{"type":"invalid_request_error","code":"usage_not_included","message":"The Codex usage is not included in your plan."}}"#,
            402,
            Verdict::Cooldown(Reason::Quota),
        ),
        (
            r#"{"type":"error","error":{"type":"insufficient_quota","code":"insufficient_quota","message":"You exceeded your current quota."}}"#,
            429,
            Verdict::Cooldown(Reason::Quota),
        ),
        (
            r#"{"type":"response.failed","sequence_number":3,"response":{"id":"resp_fake","status":"failed","error":{"code":"rate_limit_exceeded","message":"Rate limit reached. Please try again in 1s."}}}"#,
            429,
            Verdict::Cooldown(Reason::RateLimit),
        ),
        (
            r#"{"type":"response.failed","response":{"id":"resp_fake","status":"failed","error":{"code":"server_error","message":"An error occurred while processing your request."}}}"#,
            500,
            Verdict::Cooldown(Reason::ServerError),
        ),
        (
            r#"{"type":"error","code":"server_error","message":"The server had an error.","param":null,"sequence_number":1}"#,
            500,
            Verdict::Cooldown(Reason::ServerError),
        ),
        (
            r#"{"type":"error","error":{"code":"context_length_exceeded","message":"Your input exceeds the context window of this model."}}"#,
            400,
            Verdict::Return,
        ),
    ];
    for (data, status, verdict) in cases {
        let e = error(Some("error"), data);
        assert_eq!((e.status, e.verdict), (status, verdict), "{data}");
        assert_eq!(e.is_refusal(), verdict != Verdict::Return, "{data}");
    }
}

#[test]
fn the_hint_an_error_event_carries_sets_the_cooldown() {
    let data = r#"{"type":"error","error":{"type":"usage_limit_reached","message":"The usage limit has been reached","plan_type":"plus","resets_in_seconds":1234}}"#;
    let e = error(None, data);
    assert_eq!((e.status, e.verdict), (429, Verdict::Cooldown(Reason::Quota)));
    let now = 1_700_000_000_000;
    let c = cooldown_until(&HashMap::new(), Some(data), now, 1);
    assert_eq!((c.until, c.source), (now + 1_234_000, ResetSource::BodyHint));
}

#[test]
fn a_state_bound_error_in_a_stream_is_a_refusal_to_mend() {
    let data = r#"{"type":"response.failed","response":{"status":"failed","error":{"code":"invalid_encrypted_content","message":"The encrypted content gAAAA-fake could not be verified."}}}"#;
    let e = error(None, data);
    assert_eq!((e.status, e.state_bound), (400, Some(StateBoundKind::EncryptedContent)));
    assert!(e.is_refusal());
    let sig = r#"{"type":"error","error":{"type":"invalid_request_error","message":"messages.1.content.0: Invalid `signature` in `thinking` block"}}"#;
    assert_eq!(
        error(Some("error"), sig).state_bound,
        Some(StateBoundKind::ThinkingSignature)
    );
}

#[test]
fn chat_and_gemini_stream_errors_use_their_numeric_or_named_codes() {
    let gemini = r#"{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}"#;
    let e = error(None, gemini);
    assert_eq!((e.status, e.verdict), (429, Verdict::Cooldown(Reason::Quota)));
    let chat = r#"{"error":{"message":"upstream overloaded","code":503}}"#;
    assert_eq!(error(None, chat).status, 503);
}

#[test]
fn neutral_events_are_the_ones_nothing_shows() {
    let neutral = [
        (Some("message_start"), MESSAGE_START),
        (Some("ping"), PING),
        (Some("content_block_start"), THINKING_START),
        (
            Some("content_block_start"),
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"redacted_thinking","data":"fake-data"}}"#,
        ),
        (Some("content_block_stop"), r#"{"type":"content_block_stop","index":0}"#),
        (Some("response.created"), RESPONSE_CREATED),
        (
            Some("response.in_progress"),
            r#"{"type":"response.in_progress","response":{"id":"resp_fake","status":"in_progress"}}"#,
        ),
        (Some("response.output_item.added"), REASONING_ADDED),
        (
            None,
            r#"{"id":"chatcmpl-fake","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
        ),
        (None, "[DONE]"),
    ];
    for (event, data) in neutral {
        assert_eq!(classify_stream_event(event, data), StreamVerdict::Neutral, "{data}");
    }
}

#[test]
fn text_tool_calls_thinking_deltas_and_unknown_events_are_content() {
    let content = [
        (Some("content_block_delta"), THINKING_DELTA),
        (
            Some("content_block_start"),
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        ),
        (
            Some("content_block_start"),
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_fake","name":"read","input":{}}}"#,
        ),
        (
            Some("content_block_delta"),
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#,
        ),
        (
            Some("response.output_text.delta"),
            r#"{"type":"response.output_text.delta","item_id":"msg_fake","output_index":1,"content_index":0,"delta":"Hi"}"#,
        ),
        (
            Some("response.reasoning_summary_text.delta"),
            r#"{"type":"response.reasoning_summary_text.delta","item_id":"rs_fake","output_index":0,"summary_index":0,"delta":"**Reading**"}"#,
        ),
        (
            Some("response.output_item.added"),
            r#"{"type":"response.output_item.added","output_index":1,"item":{"id":"msg_fake","type":"message","status":"in_progress","content":[],"role":"assistant"}}"#,
        ),
        (
            Some("response.output_item.added"),
            r#"{"type":"response.output_item.added","output_index":1,"item":{"id":"fc_fake","type":"function_call","call_id":"call_fake","name":"read","arguments":""}}"#,
        ),
        (
            None,
            r#"{"id":"chatcmpl-fake","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_fake","function":{"name":"read","arguments":""}}]}}]}"#,
        ),
        (
            None,
            r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"Hi"}]}}]}"#,
        ),
        (Some("response.something_new"), r#"{"type":"response.something_new"}"#),
        (None, "not json"),
    ];
    for (event, data) in content {
        assert_eq!(classify_stream_event(event, data), StreamVerdict::Content, "{data}");
    }
}

/// Feeds events until a final step, as the plugin would.
fn run(events: &[(Option<&str>, &str)]) -> (Step, usize) {
    let mut look = Lookahead::default();
    for (i, (event, data)) in events.iter().enumerate() {
        match look.feed(*event, data) {
            Step::Hold => continue,
            step => return (step, i + 1),
        }
    }
    (Step::Hold, events.len())
}

#[test]
fn an_error_before_content_is_a_refusal() {
    let (step, at) = run(&[
        (Some("message_start"), MESSAGE_START),
        (Some("ping"), PING),
        (Some("content_block_start"), THINKING_START),
        (Some("error"), OVERLOADED),
    ]);
    assert_eq!(at, 4);
    assert!(
        matches!(step, Step::Refused(StreamError { status: 529, .. })),
        "{step:?}"
    );
}

#[test]
fn an_error_after_content_goes_to_opencode_untouched() {
    let (step, at) = run(&[
        (Some("message_start"), MESSAGE_START),
        (Some("content_block_start"), THINKING_START),
        (Some("content_block_delta"), THINKING_DELTA),
        (Some("error"), OVERLOADED),
    ]);
    assert_eq!(
        (step, at),
        (Step::Forward, 3),
        "forwarded at the thinking delta, never looked again"
    );
}

#[test]
fn an_error_that_is_the_requests_own_is_forwarded() {
    let own = r#"{"type":"error","error":{"code":"context_length_exceeded","message":"too long"}}"#;
    assert_eq!(
        run(&[(Some("response.created"), RESPONSE_CREATED), (Some("error"), own)]).0,
        Step::Forward
    );
}

#[test]
fn the_look_ahead_gives_up_after_its_event_or_byte_bound() {
    let pings = vec![(Some("ping"), PING); LOOKAHEAD_MAX_EVENTS + 5];
    assert_eq!(run(&pings), (Step::Forward, LOOKAHEAD_MAX_EVENTS));
    let big = format!(
        r#"{{"type":"response.created","response":{{"instructions":"{}"}}}}"#,
        "x".repeat(LOOKAHEAD_MAX_BYTES)
    );
    assert_eq!(run(&[(Some("response.created"), &big)]), (Step::Forward, 1));
    let held = vec![(Some("ping"), PING); LOOKAHEAD_MAX_EVENTS - 1];
    assert_eq!(run(&held).0, Step::Hold);
}
