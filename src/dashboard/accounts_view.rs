//! The accounts view: accounts grouped by provider with their state, usage bars and details,
//! then pending logins; scrolled so the selected row stays in sight.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

use super::app::App;
use super::theme::Theme;
use super::widgets::{ago, fit, safe, state, usage_lines};
use crate::model::{AccountView, Millis};

const ALIAS_WIDTH: usize = 18;
const STATE_WIDTH: usize = 36;

/// Lines of the view and, for each selectable row in order, the range of lines it covers.
pub struct Body {
    pub lines: Vec<Line<'static>>,
    pub rows: Vec<(usize, usize)>,
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, now: Millis, t: &Theme) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(" Accounts ", t.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let body = build(app, inner.width as usize, now, t);
    let height = inner.height as usize;
    let scroll = match body.rows.get(app.cursor) {
        Some(&(_, end)) if end > height => end - height,
        _ => 0,
    };
    frame.render_widget(Paragraph::new(body.lines).scroll((scroll as u16, 0)), inner);
}

/// Builds the view's lines for an inner width of `width` cells.
pub fn build(app: &App, width: usize, now: Millis, t: &Theme) -> Body {
    let mut body = Body {
        lines: Vec::new(),
        rows: Vec::new(),
    };
    let snap = &app.snapshot;
    if snap.accounts.is_empty() {
        body.lines.push(Line::styled(
            " No saved accounts yet. Press c to see how to connect one.",
            t.dim(),
        ));
    }
    let bar_width = if width >= 100 { 30 } else { 20 };
    let mut provider = "";
    for a in &snap.accounts {
        if a.provider_id != provider {
            provider = &a.provider_id;
            if !body.rows.is_empty() {
                body.lines.push(Line::raw(""));
            }
            body.lines.push(provider_line(app, provider, t));
        }
        let selected = body.rows.len() == app.cursor;
        let start = body.lines.len();
        account_lines(&mut body.lines, a, selected, width, bar_width, now, t);
        body.rows.push((start, body.lines.len()));
    }
    if app.pending_shown() {
        pending_lines(&mut body, app, now, t);
    }
    body
}

fn provider_line(app: &App, provider: &str, t: &Theme) -> Line<'static> {
    let count = app
        .snapshot
        .accounts
        .iter()
        .filter(|a| a.provider_id == provider)
        .count();
    let mut spans = vec![
        Span::styled(format!(" {}", safe(provider)), t.title()),
        Span::styled(
            format!("  {count} account{}", if count == 1 { "" } else { "s" }),
            t.dim(),
        ),
    ];
    if let Some(e) = app.snapshot.priority.iter().find(|e| e.provider_id == provider) {
        let model = safe(e.model_id.as_deref().unwrap_or("no model"));
        let enabled = if e.enabled { "" } else { ", off for balancing" };
        spans.push(Span::styled(
            format!(" · priority {} ({model}{enabled})", e.position + 1),
            t.dim(),
        ));
    }
    Line::from(spans)
}

/// The account's main line (marker, alias, state, details when they fit), a details line when
/// they do not, then its usage.
fn account_lines(
    out: &mut Vec<Line<'static>>,
    a: &AccountView,
    selected: bool,
    width: usize,
    bar_width: usize,
    now: Millis,
    t: &Theme,
) {
    let cursor = if selected { "▸" } else { " " };
    let active = if a.active { "●" } else { " " };
    let alias_style = if selected { t.selected() } else { Style::default() };
    let st = state(a, now, t);
    let state_text = st.content.to_string();
    let mut main = vec![
        Span::raw(format!(" {cursor}")),
        Span::styled(active.to_string(), t.healthy()),
        Span::raw(" "),
        fit(&a.alias, ALIAS_WIDTH, alias_style),
        Span::raw(" "),
    ];
    let details = details(a, now);
    let used = 4 + ALIAS_WIDTH + 1;
    if used + STATE_WIDTH + details.chars().count() <= width && !details.is_empty() {
        main.push(fit(&state_text, STATE_WIDTH, st.style));
        main.push(Span::styled(details, t.dim()));
        out.push(Line::from(main));
    } else {
        main.push(st);
        out.push(Line::from(main));
        if !details.is_empty() {
            out.push(Line::styled(format!("{:7}{details}", ""), t.dim()));
        }
    }
    if let Some(u) = &a.usage {
        out.extend(usage_lines(u, 7, bar_width, now, t));
    }
}

/// Plan, last use, failures and the login's token (expiry, or the login it needs), joined by " · ".
fn details(a: &AccountView, now: Millis) -> String {
    let mut parts = Vec::new();
    if let Some(plan) = a.usage.as_ref().and_then(|u| u.plan_name.as_deref()) {
        parts.push(format!("plan {}", safe(plan)));
    }
    parts.push(match a.last_used_at {
        Some(at) => format!("used {}", ago(at, now)),
        None => "never used".into(),
    });
    if a.failures > 0 {
        parts.push(format!(
            "{} failure{}",
            a.failures,
            if a.failures == 1 { "" } else { "s" }
        ));
    }
    parts.extend(crate::format::token_note(a, now));
    parts.join(" · ")
}

fn pending_lines(body: &mut Body, app: &App, now: Millis, t: &Theme) {
    if !body.lines.is_empty() {
        body.lines.push(Line::raw(""));
    }
    let why = if app.snapshot.switches.auto_save {
        ""
    } else {
        " (autoSave is off)"
    };
    body.lines
        .push(Line::styled(format!(" Pending logins{why}"), t.title()));
    if app.snapshot.pending.is_empty() {
        body.lines.push(Line::styled(
            "   none: a login made in opencode waits here until you save it",
            t.dim(),
        ));
    }
    for p in &app.snapshot.pending {
        let selected = body.rows.len() == app.cursor;
        let start = body.lines.len();
        let style = if selected { t.selected() } else { Style::default() };
        body.lines.push(Line::from(vec![
            Span::raw(if selected { " ▸  " } else { "    " }),
            fit(&p.provider_id, ALIAS_WIDTH, style),
            Span::raw(format!(" {:<7}", p.auth_type)),
            Span::styled(
                format!("captured {} · ⏎ save · d dismiss", ago(p.captured_at, now)),
                t.dim(),
            ),
        ]));
        body.rows.push((start, body.lines.len()));
    }
}
