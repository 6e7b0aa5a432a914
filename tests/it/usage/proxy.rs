//! The one outbound HTTP client honours the proxy variables as curl does, through the real
//! binary: a usage read for a host that is never resolved reaches a loopback proxy, and
//! `NO_PROXY` sends a loopback read direct.

use crate::common::*;
use opencode_balancer::usage::fake_server::{FakeReply, FakeUsageServer};
use serde_json::Value;

const CLAUDE: &str = "/api/oauth/usage";

fn fixture() -> String {
    std::fs::read_to_string(format!(
        "{}/fixtures/usage/anthropic/full.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// One saved Claude login, then `usage --refresh --json` with `env`.
fn read_usage(env: &[(&str, String)]) -> std::process::Output {
    let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    let (_d, store) = temp_store();
    cli_ok_with(
        &store,
        &["accounts", "add", "anthropic", "max"],
        Some(r#"{"type":"oauth","access":"at-FAKE-proxy-0001","refresh":"rt-FAKE-proxy-0001","expires":1}"#),
        &env,
    );
    cli_with(&store, &["usage", "--refresh", "--json"], None, &env)
}

fn used_percent(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    json[0]["usedPercent"].clone()
}

#[test]
fn http_proxy_in_either_case_and_all_proxy_carry_a_request_for_an_unresolvable_host() {
    for var in ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
        let proxy = FakeUsageServer::start().unwrap();
        proxy.route(CLAUDE, FakeReply::json(fixture()));
        let out = read_usage(&[
            ("OPENCODE_BALANCER_ANTHROPIC_URL", "http://usage.invalid".into()),
            (var, proxy.url()),
        ]);
        assert_eq!(used_percent(&out), 61.0, "through {var}");
        let seen = proxy.seen();
        assert_eq!(seen.len(), 1, "{var}");
        assert_eq!(seen[0].path, CLAUDE);
        assert_eq!(seen[0].headers["host"], "usage.invalid", "{var}");
        assert_eq!(seen[0].headers["authorization"], "Bearer at-FAKE-proxy-0001");
    }
}

#[test]
fn https_proxy_is_asked_to_tunnel_to_the_https_host() {
    let proxy = FakeUsageServer::start().unwrap();
    let out = read_usage(&[
        ("OPENCODE_BALANCER_ANTHROPIC_URL", "https://usage.invalid".into()),
        ("HTTPS_PROXY", proxy.url()),
        ("OPENCODE_BALANCER_USAGE_TIMEOUT_MS", "2000".into()),
    ]);
    // The stand-in refuses the tunnel (404): the read fails, but it went to the proxy only.
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(seen[0].headers["host"], "usage.invalid:443");
    assert!(
        !seen[0].headers.contains_key("authorization"),
        "the credential is not sent to the proxy"
    );
}

#[test]
fn no_proxy_sends_a_loopback_request_direct() {
    for no in ["NO_PROXY", "no_proxy"] {
        let proxy = FakeUsageServer::start().unwrap();
        let direct = FakeUsageServer::start().unwrap();
        direct.route(CLAUDE, FakeReply::json(fixture()));
        let out = read_usage(&[
            ("OPENCODE_BALANCER_ANTHROPIC_URL", direct.url()),
            ("HTTP_PROXY", proxy.url()),
            (no, "localhost,127.0.0.1".into()),
        ]);
        assert_eq!(used_percent(&out), 61.0, "{no}");
        assert_eq!(direct.count(CLAUDE), 1);
        assert!(proxy.seen().is_empty(), "{no}: the proxy saw nothing");
    }
}

#[test]
fn without_proxy_variables_a_loopback_read_goes_direct() {
    let direct = FakeUsageServer::start().unwrap();
    direct.route(CLAUDE, FakeReply::json(fixture()));
    let out = read_usage(&[("OPENCODE_BALANCER_ANTHROPIC_URL", direct.url())]);
    assert_eq!(used_percent(&out), 61.0);
    assert_eq!(direct.count(CLAUDE), 1);
}
