//! The priority matrix: providers in the order balancing tries them, with model, enabled state
//! and how many of their accounts are healthy.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

use super::app::App;
use super::theme::Theme;
use super::widgets::fit;
use crate::model::Millis;

const PROVIDER_WIDTH: usize = 20;
const MODEL_WIDTH: usize = 26;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, now: Millis, t: &Theme) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(" Priority matrix ", t.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let lines = build(app, now, t);
    let height = inner.height as usize;
    // Two lines of explanation and the column header come before the first row.
    let end = 3 + app.priority_cursor + 1;
    let scroll = end.saturating_sub(height);
    frame.render_widget(Paragraph::new(lines).scroll((scroll as u16, 0)), inner);
}

pub fn build(app: &App, now: Millis, t: &Theme) -> Vec<Line<'static>> {
    let snap = &app.snapshot;
    let note = if snap.switches.balancing {
        [
            " Balancing is ON: each message goes to the first enabled provider below",
            " that has a model and a healthy account.",
        ]
    } else {
        [
            " Balancing is off (b turns it on): this order is used only while it is on.",
            "",
        ]
    };
    let mut lines = vec![
        Line::styled(note[0], t.dim()),
        Line::styled(note[1], t.dim()),
        Line::from(vec![
            Span::raw("    #  "),
            fit("provider", PROVIDER_WIDTH, t.dim()),
            Span::raw(" "),
            fit("model", MODEL_WIDTH, t.dim()),
            Span::raw(" "),
            fit("state", 9, t.dim()),
            Span::styled("healthy", t.dim()),
        ]),
    ];
    if snap.priority.is_empty() {
        lines.push(Line::styled("    The list fills as accounts are saved.", t.dim()));
    }
    let now_healthy = |p: &str| {
        let of: Vec<_> = snap.accounts.iter().filter(|a| a.provider_id == p).collect();
        let ok = of
            .iter()
            .filter(|a| !a.disabled && !a.auth_failed && a.cooling_down_until.is_none_or(|u| u <= now))
            .count();
        format!("{ok}/{}", of.len())
    };
    for (i, e) in snap.priority.iter().enumerate() {
        let selected = i == app.priority_cursor;
        let style = if selected { t.selected() } else { Style::default() };
        let (model, model_style) = match &e.model_id {
            Some(m) => (m.as_str(), Style::default()),
            None => ("(no model: skipped)", t.dim()),
        };
        let enabled = if e.enabled {
            Span::styled(format!("{:<9}", "enabled"), t.on())
        } else {
            Span::styled(format!("{:<9}", "disabled"), t.off())
        };
        lines.push(Line::from(vec![
            Span::raw(if selected { " ▸ " } else { "   " }),
            Span::raw(format!("{:>2}  ", e.position + 1)),
            fit(&e.provider_id, PROVIDER_WIDTH, style),
            Span::raw(" "),
            fit(model, MODEL_WIDTH, model_style),
            Span::raw(" "),
            enabled,
            Span::raw(now_healthy(&e.provider_id)),
        ]));
    }
    lines
}
