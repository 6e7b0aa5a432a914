//! Layout and drawing of the whole screen: header, the accounts (or priority) view, the events
//! pane, the status line and the key footer, then any overlay.

use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

use super::accounts_view;
use super::app::{App, View};
use super::overlay;
use super::priority_view;
use super::theme::Theme;
use super::widgets::{ago, key_hints, safe};
use crate::model::Millis;

/// From this width on, the events pane sits beside the main pane instead of below it.
pub const WIDE: u16 = 140;

const ACCOUNT_KEYS: &[(&str, &str)] = &[
    ("↑↓", "move"),
    ("⏎/a", "activate"),
    ("r", "rename"),
    ("d", "remove"),
    ("e", "enable/disable"),
    ("x", "reset cooldown"),
    ("u", "usage"),
    ("c", "connect"),
    ("p", "priority"),
    ("b", "balancing"),
    ("f", "failover"),
    ("?", "help"),
    ("q", "quit"),
];

const PRIORITY_KEYS: &[(&str, &str)] = &[
    ("↑↓", "move"),
    ("⇧↑↓/K J", "reorder"),
    ("space", "enable/disable"),
    ("⏎", "model"),
    ("esc", "back"),
    ("b", "balancing"),
    ("f", "failover"),
    ("?", "help"),
    ("q", "quit"),
];

/// Draws the dashboard for the time `now`.
pub fn draw(frame: &mut Frame, app: &App, now: Millis, t: &Theme) {
    let area = frame.area();
    let keys = match app.view {
        View::Accounts => ACCOUNT_KEYS,
        View::Priority => PRIORITY_KEYS,
    };
    let footer = key_hints(keys, area.width as usize, t);
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Min(4),
            Constraint::Length(1),
            Constraint::Length(footer.len() as u16),
        ])
        .split(area);
    frame.render_widget(Paragraph::new(header(app, t)), rows[0]);
    let (main, events) = split_body(rows[1]);
    match app.view {
        View::Accounts => accounts_view::draw(frame, main, app, now, t),
        View::Priority => priority_view::draw(frame, main, app, now, t),
    }
    draw_events(frame, events, app, now, t);
    frame.render_widget(Paragraph::new(status(app, t)), rows[2]);
    frame.render_widget(Paragraph::new(footer), rows[3]);
    if let Some(o) = &app.overlay {
        overlay::draw(frame, area, o, app, t);
    }
}

/// The main pane and the events pane: side by side when wide, stacked otherwise.
fn split_body(body: Rect) -> (Rect, Rect) {
    if body.width >= WIDE {
        let c = Layout::default()
            .direction(Direction::Horizontal)
            .constraints([Constraint::Percentage(62), Constraint::Percentage(38)])
            .split(body);
        (c[0], c[1])
    } else {
        let events = (body.height / 3).clamp(3, 10);
        let c = Layout::default()
            .direction(Direction::Vertical)
            .constraints([Constraint::Min(3), Constraint::Length(events)])
            .split(body);
        (c[0], c[1])
    }
}

fn header(app: &App, t: &Theme) -> Line<'static> {
    let s = &app.snapshot.switches;
    let flag = |name: &str, on: bool| {
        vec![
            Span::raw(format!("  {name} ")),
            if on {
                Span::styled("ON", t.on())
            } else {
                Span::styled("off", t.off())
            },
        ]
    };
    let mut spans = vec![Span::styled(" opencode-balancer", t.title())];
    spans.extend(flag("balancing", s.balancing));
    spans.extend(flag("failover", s.failover));
    spans.push(Span::raw(format!("  strategy {}", safe(&s.strategy))));
    spans.extend(flag("autoSave", s.auto_save));
    Line::from(spans)
}

fn status(app: &App, t: &Theme) -> Line<'static> {
    let mut spans = Vec::new();
    for (_, what) in &app.busy {
        spans.push(Span::styled(format!(" ⟳ {}", safe(what)), t.warning()));
    }
    if let Some(e) = &app.load_error {
        spans.push(Span::styled(format!(" cannot read the store: {}", safe(e)), t.error()));
    } else if let Some(s) = &app.status {
        if s.error {
            spans.push(Span::styled(format!(" error: {}", safe(&s.text)), t.error()));
        } else {
            spans.push(Span::styled(format!(" {}", safe(&s.text)), t.healthy()));
        }
    } else if !app.loaded {
        spans.push(Span::styled(" loading…", t.dim()));
    }
    Line::from(spans)
}

fn draw_events(frame: &mut Frame, area: Rect, app: &App, now: Millis, t: &Theme) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(" Events ", t.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let lines: Vec<Line> = if app.snapshot.events.is_empty() {
        vec![Line::styled(" No events yet.", t.dim())]
    } else {
        app.snapshot
            .events
            .iter()
            .take(inner.height as usize)
            .map(|e| {
                Line::from(vec![
                    Span::styled(format!("{:>10} ", ago(e.created_at, now)), t.dim()),
                    Span::styled(format!("{:<20} ", safe(&e.kind)), t.key()),
                    Span::raw(safe(&e.message).into_owned()),
                ])
            })
            .collect()
    };
    frame.render_widget(Paragraph::new(lines), inner);
}
