//! Key handling: turns a key press into a state change and, at most, one action for the runtime.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::action::Action;
use super::app::{App, Command, Input, InputPurpose, Overlay, PickRow, Picker, RowKey, View};
use crate::model::{normalize_alias, PriorityDirection};

/// What the alias rules are, shown when an alias is refused.
pub const ALIAS_RULE: &str = "an alias needs 1-64 characters of a-z 0-9 . _ - (others become -)";

impl App {
    /// Handles one key press; the action to run, if the key asks for one.
    pub fn handle_key(&mut self, key: KeyEvent) -> Option<Command> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return None;
        }
        if let Some(overlay) = self.overlay.take() {
            return self.overlay_key(overlay, key);
        }
        if let Some(cmd) = self.common_key(key) {
            return cmd;
        }
        match self.view {
            View::Accounts => self.accounts_key(key),
            View::Priority => self.priority_key(key),
        }
    }

    /// Keys that mean the same on every view; `None` when the key is not one of them.
    fn common_key(&mut self, key: KeyEvent) -> Option<Option<Command>> {
        let s = &self.snapshot.switches;
        let action = match key.code {
            KeyCode::Char('q') => {
                self.quit = true;
                return Some(None);
            }
            KeyCode::Char('?') => {
                self.overlay = Some(Overlay::Help);
                return Some(None);
            }
            KeyCode::Char('c') => {
                self.overlay = Some(Overlay::Connect);
                return Some(None);
            }
            KeyCode::Char('b') => Action::SetBalancing(!s.balancing),
            KeyCode::Char('f') => Action::SetFailover(!s.failover),
            _ => return None,
        };
        Some(Some(self.command(action)))
    }

    fn accounts_key(&mut self, key: KeyEvent) -> Option<Command> {
        let rows = self.rows().len();
        match key.code {
            KeyCode::Esc => self.quit = true,
            KeyCode::Up | KeyCode::Char('k') => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => self.cursor = (self.cursor + 1).min(rows.saturating_sub(1)),
            KeyCode::Home | KeyCode::Char('g') => self.cursor = 0,
            KeyCode::End | KeyCode::Char('G') => self.cursor = rows.saturating_sub(1),
            KeyCode::Char('p') | KeyCode::Tab => self.view = View::Priority,
            KeyCode::Char('U') => return Some(self.command(Action::RefreshUsage { account: None })),
            KeyCode::Enter | KeyCode::Char('a' | 'r' | 'd' | 'e' | 'x' | 'u') => return self.on_row(key.code),
            _ => {}
        }
        None
    }

    /// Keys that act on the selected row.
    fn on_row(&mut self, code: KeyCode) -> Option<Command> {
        let row = self.selected()?;
        if let RowKey::Pending { id } = &row {
            let provider = self.snapshot.pending.iter().find(|p| &p.id == id)?.provider_id.clone();
            match code {
                KeyCode::Enter | KeyCode::Char('a') => {
                    self.overlay = Some(Overlay::Input(Input {
                        purpose: InputPurpose::SavePending {
                            id: id.clone(),
                            provider,
                        },
                        text: String::new(),
                        error: None,
                        waiting: None,
                    }));
                }
                KeyCode::Char('d') => self.overlay = Some(Overlay::ConfirmRemove(row.clone())),
                _ => self.set_status("that key works on saved accounts; Enter saves this login", false),
            }
            return None;
        }
        let a = self.selected_account()?.clone();
        let (provider, alias) = (a.provider_id.clone(), a.alias.clone());
        let action = match code {
            KeyCode::Enter | KeyCode::Char('a') => Action::Activate { provider, alias },
            KeyCode::Char('e') => Action::SetDisabled {
                provider,
                alias,
                disabled: !a.disabled,
            },
            KeyCode::Char('x') => Action::ResetCooldown { provider, alias },
            KeyCode::Char('u') => Action::RefreshUsage {
                account: Some((provider, alias)),
            },
            KeyCode::Char('r') => {
                self.overlay = Some(Overlay::Input(Input {
                    purpose: InputPurpose::Rename {
                        provider,
                        from: alias.clone(),
                    },
                    text: alias,
                    error: None,
                    waiting: None,
                }));
                return None;
            }
            KeyCode::Char('d') => {
                self.overlay = Some(Overlay::ConfirmRemove(row));
                return None;
            }
            _ => return None,
        };
        Some(self.command(action))
    }

    fn priority_key(&mut self, key: KeyEvent) -> Option<Command> {
        let n = self.snapshot.priority.len();
        let shift = key.modifiers.contains(KeyModifiers::SHIFT);
        let entry = self.selected_provider_in_priority().cloned();
        let action = match key.code {
            KeyCode::Esc | KeyCode::Char('p') | KeyCode::Tab | KeyCode::Backspace | KeyCode::Left => {
                self.view = View::Accounts;
                return None;
            }
            KeyCode::Up if shift => move_action(entry?, PriorityDirection::Up),
            KeyCode::Down if shift => move_action(entry?, PriorityDirection::Down),
            KeyCode::Char('K') => move_action(entry?, PriorityDirection::Up),
            KeyCode::Char('J') => move_action(entry?, PriorityDirection::Down),
            KeyCode::Up | KeyCode::Char('k') => {
                self.priority_cursor = self.priority_cursor.saturating_sub(1);
                return None;
            }
            KeyCode::Down | KeyCode::Char('j') => {
                self.priority_cursor = (self.priority_cursor + 1).min(n.saturating_sub(1));
                return None;
            }
            KeyCode::Char(' ') => {
                let e = entry?;
                Action::SetPriorityEnabled {
                    provider: e.provider_id,
                    enabled: !e.enabled,
                }
            }
            KeyCode::Enter | KeyCode::Char('m') => {
                let e = entry?;
                self.overlay = Some(Overlay::ModelPick(Picker {
                    seen: self.snapshot.seen_models(&e.provider_id),
                    provider: e.provider_id,
                    typed: String::new(),
                    cursor: 0,
                }));
                return None;
            }
            _ => return None,
        };
        Some(self.command(action))
    }

    /// Keys while an overlay is open; the overlay was taken out and is put back unless closed.
    fn overlay_key(&mut self, overlay: Overlay, key: KeyEvent) -> Option<Command> {
        match overlay {
            Overlay::Help | Overlay::Connect => {
                if !matches!(key.code, KeyCode::Esc | KeyCode::Enter | KeyCode::Char('?' | 'q' | 'c')) {
                    self.overlay = Some(overlay);
                }
                None
            }
            Overlay::ConfirmRemove(row) => match key.code {
                KeyCode::Char('y' | 'Y') => Some(self.command(match row {
                    RowKey::Account { provider, alias } => Action::Remove { provider, alias },
                    RowKey::Pending { id } => Action::DismissPending { id },
                })),
                KeyCode::Char('n' | 'N') | KeyCode::Esc => None,
                _ => {
                    self.overlay = Some(Overlay::ConfirmRemove(row));
                    None
                }
            },
            Overlay::Input(input) => self.input_key(input, key),
            Overlay::ModelPick(picker) => self.picker_key(picker, key),
        }
    }

    fn input_key(&mut self, mut input: Input, key: KeyEvent) -> Option<Command> {
        if input.waiting.is_some() {
            // Waiting for the answer: only Esc (stop waiting; the answer lands in the status line).
            if key.code != KeyCode::Esc {
                self.overlay = Some(Overlay::Input(input));
            }
            return None;
        }
        match key.code {
            KeyCode::Esc => return None,
            KeyCode::Backspace => {
                input.text.pop();
                input.error = None;
            }
            KeyCode::Char(c) if !c.is_control() && input.text.chars().count() < 128 => {
                input.text.push(c);
                input.error = None;
            }
            KeyCode::Enter => {
                let Some(alias) = normalize_alias(&input.text) else {
                    input.error = Some(ALIAS_RULE.into());
                    self.overlay = Some(Overlay::Input(input));
                    return None;
                };
                let action = match &input.purpose {
                    InputPurpose::Rename { from, .. } if *from == alias => return None,
                    InputPurpose::Rename { provider, from } => {
                        self.follow(RowKey::Account {
                            provider: provider.clone(),
                            alias: alias.clone(),
                        });
                        Action::Rename {
                            provider: provider.clone(),
                            from: from.clone(),
                            to: alias,
                        }
                    }
                    InputPurpose::SavePending { id, provider } => {
                        self.follow(RowKey::Account {
                            provider: provider.clone(),
                            alias: alias.clone(),
                        });
                        Action::SavePending { id: id.clone(), alias }
                    }
                };
                let cmd = self.command(action);
                input.waiting = Some(cmd.id);
                self.overlay = Some(Overlay::Input(input));
                return Some(cmd);
            }
            _ => {}
        }
        self.overlay = Some(Overlay::Input(input));
        None
    }

    fn picker_key(&mut self, mut picker: Picker, key: KeyEvent) -> Option<Command> {
        let rows = picker.rows();
        match key.code {
            KeyCode::Esc => return None,
            KeyCode::Up => picker.cursor = picker.cursor.saturating_sub(1),
            KeyCode::Down => picker.cursor = (picker.cursor + 1).min(rows.len().saturating_sub(1)),
            KeyCode::Backspace => {
                picker.typed.pop();
                picker.cursor = 0;
            }
            KeyCode::Char(c) if !c.is_control() && !c.is_whitespace() && picker.typed.len() < 200 => {
                picker.typed.push(c);
                picker.cursor = 0;
            }
            KeyCode::Enter => {
                let model = match rows.get(picker.cursor)? {
                    PickRow::Typed(m) | PickRow::Seen(m) => Some(m.clone()),
                    PickRow::NoModel => None,
                };
                return Some(self.command(Action::SetModel {
                    provider: picker.provider,
                    model,
                }));
            }
            _ => {}
        }
        self.overlay = Some(Overlay::ModelPick(picker));
        None
    }
}

fn move_action(e: crate::model::PriorityEntry, direction: PriorityDirection) -> Action {
    Action::MovePriority {
        provider: e.provider_id,
        direction,
    }
}
