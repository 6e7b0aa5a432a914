//! Windows drawn over the main view: help, how to connect, confirm removal, the alias input and
//! the model picker.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::app::{App, Input, InputPurpose, Overlay, PickRow, Picker, RowKey};
use super::theme::Theme;
use crate::model::normalize_alias;
use crate::safe_text::safe;

const HELP: &[(&str, &str)] = &[
    ("#Accounts", ""),
    ("↑↓ j k", "move"),
    ("Enter a", "activate (a pending login: save it)"),
    ("r", "rename"),
    ("d", "remove, after you confirm"),
    ("e", "enable / disable"),
    ("x", "reset cooldown and failures"),
    ("u U", "refresh usage: this account / all"),
    ("c", "how to connect a new account"),
    ("p", "priority matrix"),
    ("#Priority matrix", ""),
    ("Shift+↑↓ K J", "reorder"),
    ("Space", "enable / disable for balancing"),
    ("Enter", "choose the model"),
    ("Esc p", "back to accounts"),
    ("#Anywhere", ""),
    ("b / f", "balancing / failover on or off"),
    ("?", "this help"),
    ("q Esc Ctrl+C", "quit"),
];

const CONNECT: &str = "To add an account, log in from opencode: run /connect, pick the provider and \
finish its login. The balancer sees the new login in opencode's auth.json and the account appears \
here by itself (while autoSave is off it waits under Pending logins; Enter saves it).\n\n\
An API key can also be saved from a shell:\n  opencode-balancer accounts add <provider> <alias>\n\
with the key on standard input.";

pub fn draw(frame: &mut Frame, area: Rect, overlay: &Overlay, app: &App, t: &Theme) {
    match overlay {
        Overlay::Help => help(frame, area, t),
        Overlay::Connect => {
            let r = centered(area, 70, 14);
            popup(frame, r, " Connect an account ", t);
            let text = Paragraph::new(CONNECT).wrap(Wrap { trim: false });
            frame.render_widget(text, inner(r));
        }
        Overlay::ConfirmRemove(row) => {
            let what = match row {
                RowKey::Account { provider, alias } => {
                    format!("Remove {}/{}? Its saved login is deleted.", safe(provider), safe(alias))
                }
                RowKey::Pending { id } => format!("Dismiss pending login {}?", safe(id)),
            };
            let r = centered(area, 60, 6);
            popup(frame, r, " Confirm ", t);
            let lines = vec![
                Line::raw(what),
                Line::raw(""),
                Line::from(vec![
                    Span::styled("y", t.key()),
                    Span::raw(" yes   "),
                    Span::styled("n", t.key()),
                    Span::raw("/"),
                    Span::styled("Esc", t.key()),
                    Span::raw(" no"),
                ]),
            ];
            frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner(r));
        }
        Overlay::Input(input) => input_box(frame, area, input, t),
        Overlay::ModelPick(picker) => model_picker(frame, area, picker, app, t),
    }
}

fn help(frame: &mut Frame, area: Rect, t: &Theme) {
    let r = centered(area, 64, HELP.len() as u16 + 2);
    popup(frame, r, " Keys (Esc closes) ", t);
    let lines: Vec<Line> = HELP
        .iter()
        .map(|(k, v)| match k.strip_prefix('#') {
            Some(section) => Line::styled(section.to_string(), t.title()),
            None => Line::from(vec![
                Span::styled(format!("  {k:<14}"), t.key()),
                Span::raw(v.to_string()),
            ]),
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner(r));
}

fn input_box(frame: &mut Frame, area: Rect, input: &Input, t: &Theme) {
    let title = match &input.purpose {
        InputPurpose::Rename { provider, from } => format!(" Rename {}/{} ", safe(provider), safe(from)),
        InputPurpose::SavePending { provider, .. } => format!(" Save the {} login as ", safe(provider)),
    };
    let r = centered(area, 60, 7);
    popup(frame, r, &title, t);
    let mut lines = vec![Line::from(vec![
        Span::raw("alias: "),
        Span::styled(safe(&input.text).into_owned(), t.selected()),
        Span::styled("▏", t.key()),
    ])];
    lines.push(match (&input.error, normalize_alias(&input.text)) {
        (Some(e), _) => Line::styled(safe(e).into_owned(), t.error()),
        (None, Some(n)) if n != input.text => Line::styled(format!("saved as: {n}"), t.dim()),
        _ => Line::raw(""),
    });
    lines.push(Line::raw(""));
    lines.push(if input.waiting.is_some() {
        Line::styled("saving…", t.warning())
    } else {
        Line::from(vec![
            Span::styled("Enter", t.key()),
            Span::raw(" save   "),
            Span::styled("Esc", t.key()),
            Span::raw(" cancel"),
        ])
    });
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner(r));
}

fn model_picker(frame: &mut Frame, area: Rect, picker: &Picker, app: &App, t: &Theme) {
    let rows = picker.rows();
    let height = (rows.len() as u16 + 5).min(area.height.saturating_sub(2)).max(7);
    let r = centered(area, 60, height);
    popup(frame, r, &format!(" Model for {} ", safe(&picker.provider)), t);
    let current = app
        .snapshot
        .priority
        .iter()
        .find(|e| e.provider_id == picker.provider)
        .and_then(|e| e.model_id.clone());
    let mut lines = vec![
        Line::from(vec![
            Span::raw("type a model: "),
            Span::styled(safe(&picker.typed).into_owned(), t.selected()),
            Span::styled("▏", t.key()),
        ]),
        Line::styled(
            if picker.seen.is_empty() {
                "no model seen for this provider yet: type one"
            } else {
                "or pick one this store has seen:"
            },
            t.dim(),
        ),
    ];
    let visible = (inner(r).height as usize).saturating_sub(3);
    let skip = (picker.cursor + 1).saturating_sub(visible);
    for (i, row) in rows.iter().enumerate().skip(skip).take(visible) {
        let text = match row {
            PickRow::Typed(m) => format!("use \"{}\"", safe(m)),
            PickRow::Seen(m) if current.as_deref() == Some(m) => format!("{} (current)", safe(m)),
            PickRow::Seen(m) => safe(m).into_owned(),
            PickRow::NoModel => "(no model: balancing skips this provider)".into(),
        };
        lines.push(if i == picker.cursor {
            Line::styled(format!("▸ {text}"), t.selected())
        } else {
            Line::raw(format!("  {text}"))
        });
    }
    frame.render_widget(Paragraph::new(lines), inner(r));
    let hint = Line::from(vec![
        Span::styled("↑↓", t.key()),
        Span::raw(" choose  "),
        Span::styled("Enter", t.key()),
        Span::raw(" set  "),
        Span::styled("Esc", t.key()),
        Span::raw(" cancel"),
    ]);
    let i = inner(r);
    let last = Rect::new(i.x, i.y + i.height.saturating_sub(1), i.width, 1);
    frame.render_widget(Paragraph::new(hint), last);
}

/// A rectangle of at most `w`×`h` centred in `area`.
fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h)
}

fn popup(frame: &mut Frame, r: Rect, title: &str, t: &Theme) {
    frame.render_widget(Clear, r);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title.to_string(), t.title()));
    frame.render_widget(block, r);
}

fn inner(r: Rect) -> Rect {
    Block::default().borders(Borders::ALL).inner(r)
}
