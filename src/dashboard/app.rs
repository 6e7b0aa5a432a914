//! The dashboard's state: the latest snapshot, the cursor, the open view and overlay, the
//! status line. Key handling lives in `keys.rs`; this file applies what the backend reports.

use super::action::Action;
use super::data::Snapshot;
use crate::model::AccountView;

/// Which screen is shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum View {
    #[default]
    Accounts,
    Priority,
}

/// A selectable row of the accounts view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowKey {
    Account { provider: String, alias: String },
    Pending { id: String },
}

/// What a text input is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputPurpose {
    Rename { provider: String, from: String },
    SavePending { id: String, provider: String },
}

/// An inline text input with its validation error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    pub purpose: InputPurpose,
    pub text: String,
    pub error: Option<String>,
    /// The command whose answer the input waits for before it closes.
    pub waiting: Option<u64>,
}

/// Choosing a provider's model: typed text, or one of the models the store has seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Picker {
    pub provider: String,
    pub seen: Vec<String>,
    pub typed: String,
    pub cursor: usize,
}

/// A row of the model picker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PickRow {
    Typed(String),
    Seen(String),
    NoModel,
}

impl Picker {
    /// The typed model (when any), the seen ones matching it, then "no model".
    pub fn rows(&self) -> Vec<PickRow> {
        let typed = self.typed.trim();
        let mut rows = Vec::new();
        if !typed.is_empty() && !self.seen.iter().any(|m| m == typed) {
            rows.push(PickRow::Typed(typed.to_string()));
        }
        let needle = typed.to_lowercase();
        rows.extend(
            self.seen
                .iter()
                .filter(|m| m.to_lowercase().contains(&needle))
                .map(|m| PickRow::Seen(m.clone())),
        );
        rows.push(PickRow::NoModel);
        rows
    }
}

/// A window over the main view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Overlay {
    Help,
    Connect,
    ConfirmRemove(RowKey),
    Input(Input),
    ModelPick(Picker),
}

/// The status line: the last outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub error: bool,
}

/// An action with the id its answer will carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    pub id: u64,
    pub action: Action,
}

#[derive(Debug, Default)]
pub struct App {
    pub snapshot: Snapshot,
    /// A snapshot has arrived.
    pub loaded: bool,
    /// The last snapshot could not be read (the previous one stays on screen).
    pub load_error: Option<String>,
    pub view: View,
    pub overlay: Option<Overlay>,
    pub cursor: usize,
    pub priority_cursor: usize,
    pub status: Option<Status>,
    /// Background work still running: (command id, what it is).
    pub busy: Vec<(u64, &'static str)>,
    pub quit: bool,
    next_id: u64,
    /// Row the cursor should land on once the next snapshot shows it (after a rename or save).
    follow: Option<RowKey>,
}

impl App {
    pub fn new() -> App {
        App::default()
    }

    /// The selectable rows of the accounts view, in screen order: accounts, then pending logins
    /// when they are shown.
    pub fn rows(&self) -> Vec<RowKey> {
        let accounts = self.snapshot.accounts.iter().map(|a| RowKey::Account {
            provider: a.provider_id.clone(),
            alias: a.alias.clone(),
        });
        let pending = self
            .pending_shown()
            .then(|| {
                self.snapshot
                    .pending
                    .iter()
                    .map(|p| RowKey::Pending { id: p.id.clone() })
            })
            .into_iter()
            .flatten();
        accounts.chain(pending).collect()
    }

    /// Pending logins are shown while autoSave is off, and whenever some are waiting.
    pub fn pending_shown(&self) -> bool {
        !self.snapshot.switches.auto_save || !self.snapshot.pending.is_empty()
    }

    pub fn selected(&self) -> Option<RowKey> {
        self.rows().get(self.cursor).cloned()
    }

    pub fn selected_account(&self) -> Option<&AccountView> {
        match self.selected()? {
            RowKey::Account { provider, alias } => self
                .snapshot
                .accounts
                .iter()
                .find(|a| a.provider_id == provider && a.alias == alias),
            RowKey::Pending { .. } => None,
        }
    }

    pub fn selected_provider_in_priority(&self) -> Option<&crate::model::PriorityEntry> {
        self.snapshot.priority.get(self.priority_cursor)
    }

    /// Replaces the snapshot; the cursors stay on the same account and provider when they still
    /// exist, else on the same position.
    pub fn apply_snapshot(&mut self, snapshot: Snapshot) {
        let keep = self.follow.take().or_else(|| self.selected());
        let keep_provider = self.selected_provider_in_priority().map(|e| e.provider_id.clone());
        self.snapshot = snapshot;
        self.loaded = true;
        self.load_error = None;
        let rows = self.rows();
        if let Some(i) = keep.and_then(|k| rows.iter().position(|r| *r == k)) {
            self.cursor = i;
        }
        self.cursor = self.cursor.min(rows.len().saturating_sub(1));
        if let Some(i) = keep_provider.and_then(|p| self.snapshot.priority.iter().position(|e| e.provider_id == p)) {
            self.priority_cursor = i;
        }
        self.priority_cursor = self.priority_cursor.min(self.snapshot.priority.len().saturating_sub(1));
    }

    pub fn load_failed(&mut self, error: String) {
        self.load_error = Some(error);
    }

    /// Hands out an id for `action`, notes background work, and shows a switch's new position
    /// at once, so a second press before the store answers flips it back rather than again.
    pub(super) fn command(&mut self, action: Action) -> Command {
        self.assume(&action);
        self.next_id += 1;
        if let Some(text) = action.busy_text() {
            self.busy.push((self.next_id, text));
        }
        Command {
            id: self.next_id,
            action,
        }
    }

    fn assume(&mut self, action: &Action) {
        let snap = &mut self.snapshot;
        match action {
            Action::SetBalancing(on) => snap.switches.balancing = *on,
            Action::SetFailover(on) => snap.switches.failover = *on,
            Action::SetDisabled {
                provider,
                alias,
                disabled,
            } => {
                if let Some(a) = snap
                    .accounts
                    .iter_mut()
                    .find(|a| a.provider_id == *provider && a.alias == *alias)
                {
                    a.disabled = *disabled;
                }
            }
            Action::SetPriorityEnabled { provider, enabled } => {
                if let Some(e) = snap.priority.iter_mut().find(|e| e.provider_id == *provider) {
                    e.enabled = *enabled;
                }
            }
            _ => {}
        }
    }

    pub(super) fn follow(&mut self, key: RowKey) {
        self.follow = Some(key);
    }

    /// Applies the answer to command `id`.
    pub fn on_done(&mut self, id: u64, result: Result<String, String>) {
        self.busy.retain(|(b, _)| *b != id);
        if let Some(Overlay::Input(input)) = &mut self.overlay {
            if input.waiting == Some(id) {
                match result {
                    Ok(text) => {
                        self.overlay = None;
                        self.set_status(text, false);
                    }
                    Err(e) => {
                        input.waiting = None;
                        input.error = Some(e);
                        self.follow = None;
                    }
                }
                return;
            }
        }
        match result {
            Ok(text) => self.set_status(text, false),
            Err(e) => self.set_status(e, true),
        }
    }

    pub fn set_status(&mut self, text: impl Into<String>, error: bool) {
        self.status = Some(Status {
            text: text.into(),
            error,
        });
    }
}
