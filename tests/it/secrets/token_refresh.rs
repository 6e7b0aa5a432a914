//! The token keeper's paths for the secret scan: a refresh forced by a 401 on the Claude login,
//! against a token endpoint that answers 400 `invalid_grant` quoting the refresh token it got.

use serde_json::json;

use crate::common::Sidecar;
use opencode_balancer::tokens::providers::fake_server::{FakeTokenServer, Step};

/// A loopback token endpoint whose next answer echoes the refresh token sent.
pub fn echoing_token_server() -> FakeTokenServer {
    let server = FakeTokenServer::start().unwrap();
    server.then(Step::EchoToken);
    server
}

/// A 401 on `anthropic/max` (made active for it) makes the keeper refresh it; the echoing refusal
/// marks it login-required (`login_required`, a toast), then the 401 is recorded as usual.
pub fn refused_refresh(s: &mut Sidecar, server: &FakeTokenServer) {
    s.call("accounts.activate", json!({"providerID": "anthropic", "alias": "max"}));
    let headers = s.call(
        "chat.headers",
        json!({"sessionID": "scan-refresh", "providerID": "anthropic", "modelID": "m"}),
    );
    let id = headers["requestID"].as_str().unwrap().to_string();
    let begin = s.call(
        "fetch.begin",
        json!({"requestID": id, "url": "https://llm.example.test/v1/messages", "method": "POST",
               "headerNames": ["authorization"], "authorization": "bearer"}),
    );
    assert_eq!(begin["account"]["alias"], "max", "{begin}");
    s.call(
        "fetch.result",
        json!({"requestID": id, "attempt": 1, "status": 401, "headers": {}, "body": "expired"}),
    );
    s.wait_notification(|n| n["params"]["type"] == "login_required");
    assert_eq!(server.requests(), 1, "the refresh reached the echoing endpoint");
    assert_eq!(s.account("anthropic", "max")["loginRequired"], true);
    s.call(
        "accounts.activate",
        json!({"providerID": "anthropic", "alias": "console"}),
    );
}
