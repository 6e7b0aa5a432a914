//! Shared by the dashboard key tests: the dashboard's state driven against a real runtime on a
//! temporary store, with the store read back by the CLI (another process).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::common::{cli_ok, runtime_vars, temp_store, T0};
use opencode_balancer::clock::ManualClock;
use opencode_balancer::dashboard::app::{App, RowKey};
use opencode_balancer::dashboard::data::load;
use opencode_balancer::dashboard::execute;
use opencode_balancer::runtime::Runtime;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::Value;

/// The dashboard's state and the runtime it acts through.
pub struct Harness {
    pub rt: Runtime,
    pub app: App,
    pub store: PathBuf,
}

impl Harness {
    pub async fn start(store: &Path) -> Harness {
        Harness::start_with(store, &[]).await
    }

    /// On a runtime whose settings are [`runtime_vars`] with `env`.
    pub async fn start_with(store: &Path, env: &[(String, String)]) -> Harness {
        let clock = Arc::new(ManualClock::new(T0));
        let rt = Runtime::start_with(store, clock, runtime_vars(store, env)).unwrap();
        let mut app = App::new();
        app.apply_snapshot(load(&rt).await.unwrap());
        Harness {
            rt,
            app,
            store: store.to_path_buf(),
        }
    }

    /// Presses a key; runs the action it asks for (as the backend would), then reloads.
    pub async fn key(&mut self, key: KeyEvent) -> Option<Result<String, String>> {
        let cmd = self.app.handle_key(key)?;
        let result = execute(&self.rt, &cmd.action).await;
        self.app.on_done(cmd.id, result.clone());
        self.app.apply_snapshot(load(&self.rt).await.unwrap());
        Some(result)
    }

    pub async fn press(&mut self, code: KeyCode) -> Option<Result<String, String>> {
        self.key(KeyEvent::new(code, KeyModifiers::NONE)).await
    }

    pub async fn chars(&mut self, text: &str) {
        for c in text.chars() {
            assert!(self.press(KeyCode::Char(c)).await.is_none(), "typing runs nothing");
        }
    }

    pub fn accounts(&self) -> Vec<Value> {
        let out = cli_ok(&self.store, &["accounts", "list", "--json"], None);
        serde_json::from_str::<Value>(&out).unwrap().as_array().unwrap().clone()
    }

    pub fn account(&self, provider: &str, alias: &str) -> Option<Value> {
        self.accounts()
            .into_iter()
            .find(|a| a["providerID"] == provider && a["alias"] == alias)
    }

    pub fn settings(&self) -> Value {
        serde_json::from_str(&cli_ok(&self.store, &["config", "get", "--json"], None)).unwrap()
    }

    pub fn priority(&self) -> Vec<Value> {
        let out = cli_ok(&self.store, &["priority", "list", "--json"], None);
        serde_json::from_str::<Value>(&out).unwrap().as_array().unwrap().clone()
    }

    pub fn selected(&self) -> RowKey {
        self.app.selected().expect("a row is selected")
    }
}

pub fn row(provider: &str, alias: &str) -> RowKey {
    RowKey::Account {
        provider: provider.into(),
        alias: alias.into(),
    }
}

pub fn add(store: &Path, provider: &str, alias: &str) {
    cli_ok(
        store,
        &["accounts", "add", provider, alias],
        Some(&format!("sk-{alias}-secret")),
    );
}

/// A store with openai/spare, openai/work (saved last, so active) and anthropic/main.
pub fn seeded() -> (tempfile::TempDir, PathBuf) {
    let (dir, store) = temp_store();
    add(&store, "anthropic", "main");
    add(&store, "openai", "spare");
    add(&store, "openai", "work");
    (dir, store)
}

pub fn run<F: std::future::Future<Output = ()>>(f: F) {
    actix::System::new().block_on(f);
}
