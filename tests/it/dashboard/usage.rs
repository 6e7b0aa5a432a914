//! The dashboard's usage refresh (`u`) against a real temporary store: it runs in the
//! background, other keys keep working, its outcome lands in the status line, and it reads the
//! endpoints its runtime was given.

use crate::common::dashboard::*;
use opencode_balancer::dashboard::execute;
use opencode_balancer::usage::fake_server::{FakeReply, FakeUsageServer};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[test]
fn usage_refresh_reports_its_outcome_without_blocking_other_keys() {
    // The harness's runtime reads the test clock from its own settings (`runtime_vars`): its
    // usage clients never contact a public host.
    let (_d, store) = seeded();
    run(async {
        let mut h = Harness::start(&store).await;
        let cmd = h
            .app
            .handle_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::NONE))
            .unwrap();
        assert!(cmd.action.is_background(), "a refresh runs in the background");
        assert_eq!(h.app.busy.len(), 1, "shown as running");
        // Another key while it runs still works.
        h.press(KeyCode::Char('b')).await.unwrap().unwrap();
        assert_eq!(h.settings()["balancing"], true);
        // Whatever the outcome (the method may not exist, or the network is closed), it lands
        // in the status line and the refresh stops showing as running.
        let result = execute(&h.rt, &cmd.action).await;
        h.app.on_done(cmd.id, result.clone());
        assert!(h.app.busy.is_empty());
        let status = h.app.status.clone().unwrap();
        assert_eq!(status.error, result.is_err());
        for secret in ["sk-main-secret", "sk-spare-secret", "sk-work-secret"] {
            assert!(!status.text.contains(secret));
        }
    });
}

#[test]
fn an_in_process_runtime_reads_usage_from_the_endpoints_it_was_given_not_the_process_environment() {
    // Many runtimes share this process: each gets its endpoints as an argument. The stand-in's
    // address is in this runtime's settings alone, and it is read there.
    let server = FakeUsageServer::start().unwrap();
    server.route(USAGE_PATH, FakeReply::status(500, "down"));
    let (_d, store) = seeded();
    let env = [("OPENCODE_BALANCER_OPENAI_URL".to_string(), server.url())];
    run(async {
        let mut h = Harness::start_with(&store, &env).await;
        let cmd = h
            .app
            .handle_key(KeyEvent::new(KeyCode::Char('U'), KeyModifiers::NONE))
            .unwrap();
        let _ = execute(&h.rt, &cmd.action).await;
    });
    let read: Vec<String> = server.seen().into_iter().map(|s| s.path).collect();
    assert!(read.iter().any(|p| p == USAGE_PATH), "{read:?}");
}

/// Where an OpenAI API key's usage is read.
const USAGE_PATH: &str = "/v1/organization/usage/completions";
