//! Tests of the same-API rule, the URL and body rewrite, and the retry-safe messages.

use super::*;

fn api(npm: &str, base: &str) -> ProviderApi {
    ProviderApi {
        npm: Some(npm.into()),
        base_url: Some(base.into()),
        headers: Default::default(),
    }
}

const T: Millis = 1_700_000_000_000;

#[test]
fn two_openai_compatible_providers_speak_the_same_api_and_the_url_follows_the_base() {
    let from = api("@ai-sdk/openai-compatible", "http://127.0.0.1:1/a/v1");
    let to = api("@ai-sdk/groq", "http://127.0.0.1:2/b/v1/");
    let r = resend("http://127.0.0.1:1/a/v1/chat/completions", &from, &to, "two", "m2").unwrap();
    assert_eq!(r.url, "http://127.0.0.1:2/b/v1/chat/completions");
    assert_eq!(r.body_set["model"], "m2");
    assert!(r.body_remove.contains(&"reasoning_effort".to_string()));
}

#[test]
fn no_query_parameter_of_the_first_url_reaches_the_other_provider() {
    let from = api("@ai-sdk/openai-compatible", "http://127.0.0.1:1/a/v1");
    let to = api("@ai-sdk/openai-compatible", "http://127.0.0.1:2/b/v1");
    for query in [
        "?api-key=sk-FAKE-a",
        "?key=sk-FAKE-a",
        "?token=tk-FAKE-a",
        "?x=1&key=sk-FAKE-a",
        "#key=sk-FAKE-a",
    ] {
        let url = format!("http://127.0.0.1:1/a/v1/chat/completions{query}");
        let r = resend(&url, &from, &to, "two", "m").unwrap();
        assert_eq!(r.url, "http://127.0.0.1:2/b/v1/chat/completions", "{query}");
        // Without the first base the request's path is cut at its query too.
        let r = resend(
            &url,
            &ProviderApi {
                base_url: None,
                ..from.clone()
            },
            &to,
            "two",
            "m",
        )
        .unwrap();
        assert_eq!(r.url, "http://127.0.0.1:2/b/v1/chat/completions", "{query}");
    }
}

#[test]
fn the_other_providers_own_query_is_kept_after_the_path() {
    let from = api(
        "@ai-sdk/openai-compatible",
        "http://127.0.0.1:1/a/v1?api-version=1&key=sk-FAKE-a",
    );
    let to = api("@ai-sdk/openai-compatible", "http://127.0.0.1:2/b/v1/?api-version=2");
    let r = resend(
        "http://127.0.0.1:1/a/v1/chat/completions?api-version=1&key=sk-FAKE-a",
        &from,
        &to,
        "two",
        "m",
    )
    .unwrap();
    assert_eq!(r.url, "http://127.0.0.1:2/b/v1/chat/completions?api-version=2");
}

#[test]
fn without_the_first_base_the_api_path_is_used() {
    let from = ProviderApi {
        npm: Some("@ai-sdk/anthropic".into()),
        base_url: None,
        headers: Default::default(),
    };
    let to = api("@ai-sdk/anthropic", "https://proxy.example/v1");
    let r = resend("https://api.anthropic.com/v1/messages", &from, &to, "two", "c").unwrap();
    assert_eq!(r.url, "https://proxy.example/v1/messages");
}

#[test]
fn other_apis_unknown_packages_and_missing_addresses_are_refused() {
    let chat = api("@ai-sdk/openai-compatible", "http://h/v1");
    let url = "http://h/v1/chat/completions";
    assert_eq!(
        resend(url, &chat, &api("@ai-sdk/anthropic", "http://a/v1"), "two", "m"),
        Err(NotSame::OtherApi("two".into()))
    );
    assert_eq!(
        resend(url, &chat, &ProviderApi::default(), "two", "m"),
        Err(NotSame::UnknownApi("two".into()))
    );
    let no_base = ProviderApi {
        npm: Some("@ai-sdk/openai-compatible".into()),
        base_url: None,
        headers: Default::default(),
    };
    assert_eq!(
        resend(url, &chat, &no_base, "two", "m"),
        Err(NotSame::NoBaseUrl("two".into()))
    );
    assert_eq!(
        resend("http://h/v1/embeddings", &chat, &chat, "two", "m"),
        Err(NotSame::UnknownWire)
    );
    // A chat-family package reached through the responses API is not moved to a chat package.
    let openai = api("@ai-sdk/openai", "https://api.openai.com/v1");
    assert_eq!(
        resend("https://api.openai.com/v1/responses", &openai, &chat, "two", "m"),
        Err(NotSame::OtherApi("two".into()))
    );
    assert!(resend("https://api.openai.com/v1/responses", &openai, &openai, "two", "m").is_ok());
}

#[test]
fn wire_is_read_from_the_path_only() {
    assert_eq!(
        wire_of("http://h/v1/chat/completions?a=/messages"),
        Some(Wire::ChatCompletions)
    );
    assert_eq!(wire_of("http://h/v1/responses"), Some(Wire::Responses));
    assert_eq!(wire_of("http://h/v1/messages/"), Some(Wire::Messages));
    assert_eq!(wire_of("http://h/v1/models"), None);
}

#[test]
fn times_use_two_digit_groups_and_plain_durations() {
    // 2023-11-14 22:13:20 UTC is T.
    assert_eq!(when(T + 120_000, T), "22:15 UTC (in 2 min)");
    assert_eq!(when(T + 5_000, T), "22:13 UTC (in 5 s)");
    assert_eq!(when(T + 5 * 3_600_000 + 60_000, T), "03:14 UTC (in 5 h 1 min)");
    assert_eq!(when(T + 7 * 86_400_000, T), "22:13 UTC (in 7 d 0 h)");
}

#[test]
fn the_dry_message_names_accounts_and_what_to_do_and_never_reads_as_a_passing_trouble() {
    let resting = [
        Resting {
            alias: "alpha".into(),
            until: Some(T + 120_000),
            quota: false,
            login: false,
        },
        Resting {
            alias: "bravo".into(),
            until: None,
            quota: false,
            login: false,
        },
        Resting {
            alias: "charlie".into(),
            until: Some(T + 30_000),
            quota: true,
            login: false,
        },
        Resting {
            alias: "delta".into(),
            until: Some(T + 1_800_000),
            quota: false,
            login: true,
        },
    ];
    let off = exhausted_message("mock-a", &resting, T, false);
    assert!(off.contains("alpha until 22:15 UTC (in 2 min)"), "{off}");
    assert!(off.contains("bravo disabled"), "{off}");
    assert!(
        off.contains("charlie out of quota (tried again after 22:13 UTC (in 30 s))"),
        "{off}"
    );
    assert!(off.contains("delta needs a new login (/connect)"), "{off}");
    assert!(off.contains("/balancer balancing on"), "{off}");
    assert!(retry_safe(&off), "{off}");
    let on = exhausted_message("mock-a", &resting, T, true);
    assert!(on.contains("/balancer priority"), "{on}");
    assert!(retry_safe(&on));
    let moved = moved_message(
        "mock-a",
        &resting,
        T,
        "claude/opus",
        &NotSame::OtherApi("claude".into()),
    );
    assert!(moved.contains("your next message will use claude/opus"), "{moved}");
    assert!(retry_safe(&moved));
    assert!(retry_safe(&resubmit_message("mock-a", "claude/opus")));
}

#[test]
fn a_name_opencode_would_retry_on_is_left_out() {
    let resting = [Resting {
        alias: "key-429".into(),
        until: Some(T + 120_000),
        quota: false,
        login: false,
    }];
    let m = exhausted_message("p", &resting, T, false);
    assert!(!m.contains("key-429"), "{m}");
    assert!(m.contains("the first of 1 accounts back at 22:15 UTC"), "{m}");
    assert!(retry_safe(&m));
    let m = exhausted_message("rate limit co", &resting, T, false);
    assert!(retry_safe(&m), "{m}");
    assert!(!retry_safe("Rate Limit reached"));
    assert!(!retry_safe("wait 1500 ms"));
}
