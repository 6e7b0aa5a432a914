//! Small pieces the views are drawn from: usage bars, account states, compact durations.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::theme::Theme;
use crate::model::{AccountView, Confidence, CooldownReason, Millis, UsageSnapshot};
pub use crate::safe_text::safe;

/// "45s", "4m 10s", "2h 10m", "3d 4h" (always positive).
pub fn duration(ms: Millis) -> String {
    let s = ms.max(0) / 1000;
    if s >= 86_400 {
        format!("{}d {}h", s / 86_400, (s % 86_400) / 3600)
    } else if s >= 3600 {
        format!("{}h {}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m {}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// "20s ago", "3m ago", "2h 5m ago", "3d 4h ago"; "just now" under a second.
pub fn ago(at: Millis, now: Millis) -> String {
    let d = now - at;
    match d {
        ..1000 => "just now".into(),
        1000..60_000 => format!("{}s ago", d / 1000),
        60_000..3_600_000 => format!("{}m ago", d / 60_000),
        _ => format!("{} ago", duration(d)),
    }
}

/// An account's state at `now`, with its style: disabled; auth failed; cooling down with a
/// countdown and the reason; healthy. A cooldown that has passed shows as healthy.
pub fn state(a: &AccountView, now: Millis, t: &Theme) -> Span<'static> {
    let cooling = a.cooling_down_until.filter(|u| *u > now);
    if a.disabled {
        return Span::styled("disabled", t.dim());
    }
    if a.auth_failed {
        let text = match cooling {
            Some(u) => format!("auth failed (retry in {})", duration(u - now)),
            None => "auth failed".into(),
        };
        return Span::styled(text, t.error());
    }
    match cooling {
        Some(u) => Span::styled(
            format!(
                "cooling down {} ({})",
                duration(u - now),
                a.cooldown_reason.unwrap_or(CooldownReason::RateLimit).as_str()
            ),
            t.warning(),
        ),
        None => Span::styled("healthy", t.healthy()),
    }
}

/// A bar of `width` cells, filled by `percent` (0–100, clamped), then the percent.
pub fn bar(percent: f64, width: usize, t: &Theme) -> Vec<Span<'static>> {
    let p = if percent.is_finite() {
        percent.clamp(0.0, 100.0)
    } else {
        0.0
    };
    let filled = ((p / 100.0) * width as f64).round() as usize;
    vec![
        Span::styled("█".repeat(filled), t.usage(p)),
        Span::styled("░".repeat(width - filled), t.dim()),
        Span::raw(format!(" {:>3.0}%", p)),
    ]
}

/// One line per usage window (or one for the overall percent), each a bar with its percent and
/// the time to its reset; or a single line with the provider's message when there is no number.
pub fn usage_lines(u: &UsageSnapshot, indent: usize, bar_width: usize, now: Millis, t: &Theme) -> Vec<Line<'static>> {
    let mut windows: Vec<(String, f64, Option<Millis>)> = u
        .windows
        .iter()
        .flatten()
        .map(|w| (safe(&w.name).into_owned(), w.used_percent, w.reset_at))
        .collect();
    if windows.is_empty() {
        if let Some(p) = u.used_percent {
            windows.push(("usage".into(), p, u.reset_at));
        }
    }
    let pad = " ".repeat(indent);
    if windows.is_empty() {
        let text = safe(u.error.as_deref().unwrap_or(&u.message));
        let style = if u.error.is_some() { t.warning() } else { t.dim() };
        return vec![Line::from(vec![
            Span::raw(pad),
            Span::styled(format!("usage: {text}"), style),
        ])];
    }
    let name_width = windows.iter().map(|w| w.0.chars().count()).max().unwrap_or(0).min(10);
    windows
        .into_iter()
        .map(|(name, p, reset)| {
            let mut spans = vec![
                Span::raw(pad.clone()),
                Span::raw(format!("{:<name_width$.name_width$} ", name)),
            ];
            spans.extend(bar(p, bar_width, t));
            match reset {
                Some(r) if r > now => spans.push(Span::styled(format!("  resets in {}", duration(r - now)), t.dim())),
                Some(_) => spans.push(Span::styled("  reset due", t.dim())),
                None => {}
            }
            if u.is(Confidence::Estimated) {
                spans.push(Span::styled(" (est.)", t.dim()));
            }
            Line::from(spans)
        })
        .collect()
}

/// Key hints as `key label` pairs, wrapped greedily into lines of `width` cells.
pub fn key_hints(items: &[(&str, &str)], width: usize, t: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let mut current: Vec<Span<'static>> = Vec::new();
    let mut used = 0;
    for (key, label) in items {
        let w = key.chars().count() + 1 + label.chars().count();
        let gap = if current.is_empty() { 1 } else { 2 };
        if used + gap + w > width && !current.is_empty() {
            lines.push(Line::from(std::mem::take(&mut current)));
            used = 0;
        }
        let gap = if current.is_empty() { 1 } else { 2 };
        current.push(Span::raw(" ".repeat(gap)));
        current.push(Span::styled(key.to_string(), t.key()));
        current.push(Span::raw(format!(" {label}")));
        used += gap + w;
    }
    if !current.is_empty() {
        lines.push(Line::from(current));
    }
    lines
}

/// A span padded or cut to exactly `width` cells (by chars; the dashboard's text is ASCII
/// but for its own glyphs), outside text escaped (`safe`) before it is cut.
pub fn fit(text: &str, width: usize, style: Style) -> Span<'static> {
    let mut s: String = safe(text).chars().take(width).collect();
    let n = s.chars().count();
    s.extend(std::iter::repeat_n(' ', width - n));
    Span::styled(s, style)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_compact() {
        assert_eq!(duration(45_000), "45s");
        assert_eq!(duration(250_000), "4m 10s");
        assert_eq!(duration(2 * 3_600_000 + 600_000), "2h 10m");
        assert_eq!(duration(3 * 86_400_000 + 4 * 3_600_000), "3d 4h");
        assert_eq!(duration(-5), "0s");
        assert_eq!(ago(0, 500), "just now");
        assert_eq!(ago(0, 20_500), "20s ago");
        assert_eq!(ago(0, 250_000), "4m ago");
        assert_eq!(ago(0, 2 * 3_600_000), "2h 0m ago");
    }

    #[test]
    fn bars_fill_by_percent_and_clamp() {
        let t = Theme::plain();
        let text = |p: f64| bar(p, 10, &t).iter().map(|s| s.content.to_string()).collect::<String>();
        assert_eq!(text(42.0), "████░░░░░░  42%");
        assert_eq!(text(150.0), "██████████ 100%");
        assert_eq!(text(f64::NAN), "░░░░░░░░░░   0%");
    }

    #[test]
    fn hints_wrap_between_items() {
        let t = Theme::plain();
        let lines = key_hints(&[("a", "one"), ("b", "two"), ("c", "three")], 14, &t);
        let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        assert_eq!(text, vec![" a one  b two", " c three"]);
    }
}
