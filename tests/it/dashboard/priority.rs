//! Dashboard keys of the priority matrix against a real temporary store, and the live view: a
//! change made by another process reaches the dashboard within a second.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::dashboard::*;
use crate::common::{cli_ok, T0};
use opencode_balancer::clock::ManualClock;
use opencode_balancer::dashboard::app::{Overlay, View};
use opencode_balancer::dashboard::backend::{Backend, Update};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[test]
fn priority_matrix_reorders_toggles_and_sets_models() {
    let (_d, store) = seeded();
    run(async {
        let mut h = Harness::start(&store).await;
        let order = |h: &Harness| -> Vec<String> {
            h.priority()
                .iter()
                .map(|e| e["providerID"].as_str().unwrap().to_string())
                .collect()
        };
        let before = order(&h);
        assert_eq!(before.len(), 2);
        h.press(KeyCode::Char('p')).await;
        h.press(KeyCode::Down).await;
        let second = before[1].clone();
        h.key(KeyEvent::new(KeyCode::Up, KeyModifiers::SHIFT))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(order(&h)[0], second, "Shift+Up moves it up");
        assert_eq!(h.app.priority_cursor, 0, "the cursor follows the provider");
        h.press(KeyCode::Char('J')).await.unwrap().unwrap();
        assert_eq!(order(&h), before, "J moves it back down");
        h.press(KeyCode::Char('K')).await.unwrap().unwrap();
        h.key(KeyEvent::new(KeyCode::Down, KeyModifiers::SHIFT))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(order(&h), before);

        // Space disables the selected provider for balancing, and enables it again.
        h.press(KeyCode::Char(' ')).await.unwrap().unwrap();
        assert_eq!(h.priority()[1]["enabled"], false);
        h.press(KeyCode::Char(' ')).await.unwrap().unwrap();
        assert_eq!(h.priority()[1]["enabled"], true);

        // Enter: type a model; then pick one the store has seen.
        h.press(KeyCode::Enter).await;
        h.chars("model-a").await;
        h.press(KeyCode::Enter).await.unwrap().unwrap();
        assert_eq!(h.priority()[1]["modelID"], "model-a");
        h.press(KeyCode::Enter).await;
        h.chars("model-b").await;
        h.press(KeyCode::Enter).await.unwrap().unwrap();
        assert_eq!(h.priority()[1]["modelID"], "model-b");
        h.press(KeyCode::Enter).await;
        match &h.app.overlay {
            Some(Overlay::ModelPick(p)) => assert_eq!(p.seen, vec!["model-b", "model-a"]),
            other => panic!("picker expected: {other:?}"),
        }
        h.press(KeyCode::Down).await;
        h.press(KeyCode::Enter).await.unwrap().unwrap();
        assert_eq!(h.priority()[1]["modelID"], "model-a", "a seen model was picked");

        h.press(KeyCode::Esc).await;
        assert_eq!(h.app.view, View::Accounts, "Esc goes back");
        assert!(!h.app.quit);
    });
}

/// A change made by another process reaches the dashboard's backend within a second.
#[test]
fn changes_from_another_process_arrive_within_a_second() {
    let (_d, store) = seeded();
    let (tx, updates) = std::sync::mpsc::channel();
    let backend = Backend::start(store.clone(), Arc::new(ManualClock::new(T0)), tx).unwrap();
    let first = match updates.recv_timeout(Duration::from_secs(5)).unwrap() {
        Update::Snapshot(s) => s,
        other => panic!("a snapshot first: {other:?}"),
    };
    assert!(!first.switches.balancing);
    cli_ok(&store, &["balancing", "on"], None);
    let changed = Instant::now();
    loop {
        let left = Duration::from_secs(1).saturating_sub(changed.elapsed());
        match updates.recv_timeout(left) {
            Ok(Update::Snapshot(s)) if s.switches.balancing => break,
            Ok(_) => continue,
            Err(e) => panic!("balancing on never arrived within a second: {e}"),
        }
    }
    backend.stop();
}
