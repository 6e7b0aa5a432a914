//! Dashboard key handling against a real temporary store: each key's action runs through the
//! runtime the dashboard uses, and the store is then read back by another process (the CLI).

use crate::common::cli_ok;
use crate::common::dashboard::*;
use opencode_balancer::accounts::Capture;
use opencode_balancer::dashboard::app::{Overlay, RowKey, View};
use opencode_balancer::dashboard::data::load;
use opencode_balancer::dashboard::{execute, ALIAS_RULE};
use opencode_balancer::model::Auth;
use opencode_balancer::rpc::dispatch::dispatch;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::{json, Value};

#[test]
fn enter_and_a_activate_the_selected_account() {
    let (_d, store) = seeded();
    run(async {
        let mut h = Harness::start(&store).await;
        assert_eq!(h.account("openai", "work").unwrap()["active"], true);
        h.press(KeyCode::Down).await;
        assert_eq!(h.selected(), row("openai", "spare"));
        assert_eq!(
            h.press(KeyCode::Enter).await,
            Some(Ok("openai/spare is now active".into()))
        );
        assert_eq!(h.account("openai", "spare").unwrap()["active"], true);
        assert_eq!(h.account("openai", "work").unwrap()["active"], false);
        h.press(KeyCode::Char('j')).await;
        h.press(KeyCode::Char('a')).await.unwrap().unwrap();
        assert_eq!(h.account("openai", "work").unwrap()["active"], true);
        assert_eq!(h.selected(), row("openai", "work"), "the cursor stays on the account");
    });
}

#[test]
fn rename_enforces_alias_rules_and_follows_the_account() {
    let (_d, store) = seeded();
    run(async {
        let mut h = Harness::start(&store).await;
        h.press(KeyCode::Down).await;
        h.press(KeyCode::Char('r')).await;
        assert!(matches!(h.app.overlay, Some(Overlay::Input(_))));
        for _ in 0.."spare".len() {
            h.press(KeyCode::Backspace).await;
        }
        h.chars("!!!").await;
        assert!(
            h.press(KeyCode::Enter).await.is_none(),
            "an invalid alias is never sent"
        );
        match &h.app.overlay {
            Some(Overlay::Input(i)) => assert_eq!(i.error.as_deref(), Some(ALIAS_RULE)),
            other => panic!("the input stays open with the error: {other:?}"),
        }
        assert!(h.account("openai", "spare").is_some(), "nothing changed");

        // An alias taken by another account: the runtime's error is shown in the input.
        for _ in 0..3 {
            h.press(KeyCode::Backspace).await;
        }
        h.chars("work").await;
        let err = h.press(KeyCode::Enter).await.unwrap().unwrap_err();
        assert!(err.contains("already exists"), "{err}");
        match &h.app.overlay {
            Some(Overlay::Input(i)) => assert_eq!(i.error.as_deref(), Some(err.as_str())),
            other => panic!("the input stays open with the error: {other:?}"),
        }

        for _ in 0..4 {
            h.press(KeyCode::Backspace).await;
        }
        h.chars("Team Spare").await;
        h.press(KeyCode::Enter).await.unwrap().unwrap();
        assert_eq!(h.app.overlay, None);
        assert!(h.account("openai", "spare").is_none());
        assert!(h.account("openai", "team-spare").is_some(), "saved normalized");
        assert_eq!(h.selected(), row("openai", "team-spare"));
    });
}

#[test]
fn remove_asks_first() {
    let (_d, store) = seeded();
    run(async {
        let mut h = Harness::start(&store).await;
        assert_eq!(h.selected(), row("anthropic", "main"));
        h.press(KeyCode::Char('d')).await;
        assert!(matches!(h.app.overlay, Some(Overlay::ConfirmRemove(_))));
        assert!(h.press(KeyCode::Char('n')).await.is_none());
        assert!(h.account("anthropic", "main").is_some(), "n keeps it");
        h.press(KeyCode::Char('d')).await;
        assert!(h.press(KeyCode::Esc).await.is_none());
        assert!(!h.app.quit, "Esc closes the question, it does not quit");
        h.press(KeyCode::Char('d')).await;
        h.press(KeyCode::Char('y')).await.unwrap().unwrap();
        assert!(h.account("anthropic", "main").is_none());
        assert_eq!(h.accounts().len(), 2);
    });
}

#[test]
fn e_disables_and_enables() {
    let (_d, store) = seeded();
    run(async {
        let mut h = Harness::start(&store).await;
        h.press(KeyCode::Char('e')).await.unwrap().unwrap();
        assert_eq!(h.account("anthropic", "main").unwrap()["disabled"], true);
        h.press(KeyCode::Char('e')).await.unwrap().unwrap();
        assert_eq!(h.account("anthropic", "main").unwrap()["disabled"], false);
    });
}

#[test]
fn x_clears_a_cooldown() {
    let (_d, store) = seeded();
    run(async {
        let mut h = Harness::start(&store).await;
        // A 429 on openai/work, through the same method table the sidecar answers.
        let headers = dispatch(
            &h.rt,
            "chat.headers",
            json!({"sessionID": "s", "providerID": "openai", "modelID": "m"}),
        )
        .await
        .unwrap();
        let id = headers["requestID"].as_str().unwrap().to_string();
        dispatch(
            &h.rt,
            "fetch.begin",
            json!({"requestID": id, "url": "http://127.0.0.1:9/v1", "method": "POST", "headerNames": ["authorization"]}),
        )
        .await
        .unwrap();
        dispatch(
            &h.rt,
            "fetch.result",
            json!({"requestID": id, "attempt": 1, "status": 429, "headers": {"retry-after": "120"}}),
        )
        .await
        .unwrap();
        h.rt.flush().await;
        h.app.apply_snapshot(load(&h.rt).await.unwrap());
        let cooled = h.account("openai", "work").unwrap();
        assert!(cooled["coolingDownUntil"].is_i64(), "{cooled}");
        while h.selected() != row("openai", "work") {
            h.press(KeyCode::Down).await;
        }
        h.press(KeyCode::Char('x')).await.unwrap().unwrap();
        let after = h.account("openai", "work").unwrap();
        assert!(after["coolingDownUntil"].is_null(), "{after}");
        assert_eq!(after["failures"], 0);
    });
}

#[test]
fn b_and_f_toggle_balancing_and_failover() {
    let (_d, store) = seeded();
    run(async {
        let mut h = Harness::start(&store).await;
        assert_eq!(h.settings()["balancing"], false);
        h.press(KeyCode::Char('b')).await.unwrap().unwrap();
        assert_eq!(h.settings()["balancing"], true);
        h.press(KeyCode::Char('f')).await.unwrap().unwrap();
        assert_eq!(h.settings()["failover"], false);
        // The same keys work on the priority matrix.
        h.press(KeyCode::Char('p')).await;
        assert_eq!(h.app.view, View::Priority);
        h.press(KeyCode::Char('b')).await.unwrap().unwrap();
        h.press(KeyCode::Char('f')).await.unwrap().unwrap();
        let s = h.settings();
        assert_eq!(
            (s["balancing"].clone(), s["failover"].clone()),
            (json!(false), json!(true))
        );
    });
}

#[test]
fn pending_logins_can_be_saved_or_dismissed() {
    let (_d, store) = seeded();
    cli_ok(&store, &["config", "set", "autoSave", "false"], None);
    run(async {
        let mut h = Harness::start(&store).await;
        for key in ["sk-new-one", "sk-new-two"] {
            h.rt.registry
                .send(Capture {
                    entries: vec![("openai".into(), Auth::from_user_input(key).unwrap())],
                    source: "auth.json".into(),
                    hints: Default::default(),
                })
                .await
                .unwrap()
                .unwrap();
        }
        h.app.apply_snapshot(load(&h.rt).await.unwrap());
        assert_eq!(h.app.snapshot.pending.len(), 2);
        h.press(KeyCode::End).await;
        assert!(matches!(h.selected(), RowKey::Pending { .. }));
        h.press(KeyCode::Char('d')).await;
        h.press(KeyCode::Char('y')).await.unwrap().unwrap();
        assert_eq!(h.app.snapshot.pending.len(), 1);
        h.press(KeyCode::End).await;
        h.press(KeyCode::Enter).await;
        h.chars("Fresh").await;
        h.press(KeyCode::Enter).await.unwrap().unwrap();
        assert!(h.account("openai", "fresh").is_some());
        assert_eq!(
            h.selected(),
            row("openai", "fresh"),
            "the cursor follows the saved login"
        );
        let pending = cli_ok(&store, &["pending", "list", "--json"], None);
        assert_eq!(serde_json::from_str::<Value>(&pending).unwrap(), json!([]));
    });
}

#[test]
fn quit_keys() {
    let (_d, store) = seeded();
    run(async {
        for key in [
            KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE),
            KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE),
            KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
        ] {
            let mut h = Harness::start(&store).await;
            h.key(key).await;
            assert!(h.app.quit, "{key:?} quits");
        }
        // In an input, q is a letter; Ctrl+C still quits.
        let mut h = Harness::start(&store).await;
        h.press(KeyCode::Char('r')).await;
        h.press(KeyCode::Char('q')).await;
        assert!(!h.app.quit);
        h.key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)).await;
        assert!(h.app.quit);
        // Help and connect open and close.
        let mut h = Harness::start(&store).await;
        h.press(KeyCode::Char('?')).await;
        assert_eq!(h.app.overlay, Some(Overlay::Help));
        h.press(KeyCode::Esc).await;
        h.press(KeyCode::Char('c')).await;
        assert_eq!(h.app.overlay, Some(Overlay::Connect));
        h.press(KeyCode::Esc).await;
        assert_eq!(h.app.overlay, None);
        assert!(!h.app.quit);
    });
}

#[test]
fn a_switch_pressed_twice_before_the_store_answers_flips_back() {
    let (_d, store) = seeded();
    run(async {
        let mut h = Harness::start(&store).await;
        let b = KeyEvent::new(KeyCode::Char('b'), KeyModifiers::NONE);
        let first = h.app.handle_key(b).unwrap();
        let second = h.app.handle_key(b).unwrap();
        for cmd in [first, second] {
            let result = execute(&h.rt, &cmd.action).await;
            h.app.on_done(cmd.id, result);
        }
        assert_eq!(h.settings()["balancing"], false, "on, then off again");
    });
}
