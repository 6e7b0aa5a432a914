//! Styles of the dashboard, with colour only when `NO_COLOR` is not set.

use ratatui::style::{Color, Modifier, Style};

/// Every style the dashboard draws with. Without colour, emphasis falls back to bold,
/// reverse video and plain text, so nothing depends on colour alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    /// Colour unless `NO_COLOR` is set to a non-empty value (no-color.org).
    pub fn from_env() -> Theme {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Theme { color: !no_color }
    }

    pub fn plain() -> Theme {
        Theme { color: false }
    }

    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    pub fn title(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn dim(&self) -> Style {
        if self.color {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default()
        }
    }

    pub fn healthy(&self) -> Style {
        self.fg(Color::Green)
    }

    pub fn warning(&self) -> Style {
        self.fg(Color::Yellow)
    }

    pub fn error(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn selected(&self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    pub fn key(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn on(&self) -> Style {
        self.fg(Color::Green).add_modifier(Modifier::BOLD)
    }

    pub fn off(&self) -> Style {
        self.dim()
    }

    /// The filled part of a usage bar by how much is used.
    pub fn usage(&self, percent: f64) -> Style {
        if percent >= 90.0 {
            self.fg(Color::Red)
        } else if percent >= 70.0 {
            self.fg(Color::Yellow)
        } else {
            self.fg(Color::Green)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_colour_no_style_sets_a_colour() {
        let t = Theme::plain();
        for s in [
            t.title(),
            t.dim(),
            t.healthy(),
            t.warning(),
            t.error(),
            t.key(),
            t.usage(95.0),
        ] {
            assert_eq!(s.fg, None);
            assert_eq!(s.bg, None);
        }
        assert!(Theme { color: true }.healthy().fg.is_some());
    }
}
