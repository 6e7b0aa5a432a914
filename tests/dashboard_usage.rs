//! The dashboard's usage refresh (`u`) against a real temporary store: it runs in the
//! background, other keys keep working, and its outcome lands in the status line.

mod common;
mod dashboard_harness;

use common::T0;
use dashboard_harness::*;
use opencode_balancer::dashboard::execute;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[test]
fn usage_refresh_reports_its_outcome_without_blocking_other_keys() {
    // Test mode of the usage clients: no public host is ever contacted from this process. The
    // only test in this binary, so nothing reads the environment while it is set.
    std::env::set_var("OPENCODE_BALANCER_TEST_CLOCK", T0.to_string());
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
