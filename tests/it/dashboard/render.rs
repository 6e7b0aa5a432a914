//! Golden snapshots of the dashboard drawn on ratatui's test backend at a fixed time: the main
//! view, the wide and narrow layouts, account states, usage bars, the priority matrix and the
//! overlays. Re-bless with `OPENCODE_BALANCER_BLESS=1 cargo test --test dashboard_render`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use opencode_balancer::dashboard::app::{App, Input, InputPurpose, Overlay, Picker, RowKey, View};
use opencode_balancer::dashboard::data::{PendingRow, Snapshot, Switches};
use opencode_balancer::dashboard::render::draw;
use opencode_balancer::dashboard::theme::Theme;
use opencode_balancer::dashboard::ALIAS_RULE;
use opencode_balancer::model::{
    AccountView, Confidence, CooldownReason, PriorityEntry, StoredEvent, UsageSnapshot, UsageWindow,
};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use ratatui::Terminal;

/// The fixed "now" of every snapshot (2023-11-14T22:13:20Z).
const NOW: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

fn account(provider: &str, alias: &str) -> AccountView {
    AccountView {
        provider_id: provider.into(),
        alias: alias.into(),
        auth_type: "api".into(),
        active: false,
        disabled: false,
        cooling_down_until: None,
        cooldown_reason: None,
        auth_failed: false,
        failures: 0,
        last_used_at: None,
        created_at: NOW - 48 * HOUR,
        usage: None,
        token_expires_at: None,
        login_required: false,
        login_hint: None,
        owner: None,
        credential_id: None,
    }
}

fn usage(provider: &str, alias: &str, plan: Option<&str>, windows: &[(&str, f64, Option<i64>)]) -> UsageSnapshot {
    UsageSnapshot {
        provider_id: provider.into(),
        alias: alias.into(),
        fetched_at: NOW - MIN,
        confidence: Confidence::Exact,
        plan_name: plan.map(str::to_string),
        used_percent: windows.first().map(|w| w.1),
        reset_at: None,
        used_units: None,
        remaining_units: None,
        windows: Some(
            windows
                .iter()
                .map(|(name, p, reset)| UsageWindow {
                    name: name.to_string(),
                    used_percent: *p,
                    reset_at: *reset,
                })
                .collect(),
        ),
        message: "ok".into(),
        error: None,
    }
}

fn event(id: i64, kind: &str, message: &str, ago: i64) -> StoredEvent {
    StoredEvent {
        id,
        kind: kind.into(),
        provider_id: None,
        alias: None,
        message: message.into(),
        created_at: NOW - ago,
        metadata: BTreeMap::new(),
    }
}

fn prio(provider: &str, position: u32, model: Option<&str>, enabled: bool) -> PriorityEntry {
    PriorityEntry {
        provider_id: provider.into(),
        position,
        model_id: model.map(str::to_string),
        enabled,
    }
}

/// A store with every kind of account state.
fn fixture() -> Snapshot {
    let mut work = account("openai", "work");
    work.active = true;
    work.last_used_at = Some(NOW - 3 * MIN);
    work.usage = Some(usage(
        "openai",
        "work",
        Some("Plus"),
        &[
            ("5h", 42.0, Some(NOW + 2 * HOUR + 10 * MIN)),
            ("weekly", 12.0, Some(NOW + 76 * HOUR)),
        ],
    ));
    let mut spare = account("openai", "spare");
    spare.cooling_down_until = Some(NOW + 4 * MIN + 10_000);
    spare.cooldown_reason = Some(CooldownReason::RateLimit);
    spare.failures = 2;
    spare.last_used_at = Some(NOW - 5 * MIN);
    let mut main = account("anthropic", "main");
    main.active = true;
    main.auth_type = "oauth".into();
    main.auth_failed = true;
    main.cooling_down_until = Some(NOW + 55_000);
    main.cooldown_reason = Some(CooldownReason::AuthFailed);
    main.failures = 1;
    let mut old = account("anthropic", "old");
    old.disabled = true;
    let mut team = account("github-copilot", "team");
    team.active = true;
    team.auth_type = "oauth".into();
    team.usage = Some(usage(
        "github-copilot",
        "team",
        Some("business"),
        &[("premium", 95.0, Some(NOW + 9 * 24 * HOUR))],
    ));
    Snapshot {
        accounts: vec![main, old, team, spare, work],
        priority: vec![
            prio("openai", 0, Some("gpt-5"), true),
            prio("anthropic", 1, Some("claude-sonnet-4"), true),
            prio("github-copilot", 2, None, false),
        ],
        pending: vec![],
        switches: Switches {
            balancing: true,
            failover: true,
            auto_save: true,
            strategy: "sticky".into(),
        },
        events: vec![
            event(
                4,
                "rate_limit_detected",
                "openai/spare cooling down for 4m 10s (429)",
                20_000,
            ),
            event(
                3,
                "failover_performed",
                "openai: retried on work after spare was limited",
                20_000,
            ),
            event(
                2,
                "auth_failed",
                "anthropic/main: the credential was refused (401)",
                5_000,
            ),
            event(1, "account_saved", "openai/work saved", 2 * HOUR),
        ],
        model_history: vec![("openai".into(), "gpt-4.1".into())],
        store_path: "/home/user/.config/opencode/balancer.sqlite".into(),
    }
}

fn app_with(snapshot: Snapshot) -> App {
    let mut app = App::new();
    app.apply_snapshot(snapshot);
    app
}

fn render(app: &App, w: u16, h: u16, now: i64, theme: Theme) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| draw(f, app, now, &theme)).unwrap();
    term.backend().buffer().clone()
}

/// The screen as text, one line per row, trailing spaces cut.
fn text(buf: &Buffer) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in 0..area.height {
        let line: String = (0..area.width).map(|x| buf[(x, y)].symbol()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn screen(app: &App, w: u16, h: u16) -> String {
    text(&render(app, w, h, NOW, Theme::plain()))
}

/// Compares with tests/snapshots/dashboard/NAME.txt exactly (or writes it when blessing).
fn assert_snapshot(name: &str, actual: &str) {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "snapshots",
        "dashboard",
        &format!("{name}.txt"),
    ]
    .iter()
    .collect();
    if std::env::var_os("OPENCODE_BALANCER_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot at {}; bless with OPENCODE_BALANCER_BLESS=1",
            path.display()
        )
    });
    if expected != actual {
        panic!(
            "snapshot {name} differs (bless with OPENCODE_BALANCER_BLESS=1)\n--- expected\n{expected}--- actual\n{actual}"
        );
    }
}

#[test]
fn main_view() {
    assert_snapshot("main_120x40", &screen(&app_with(fixture()), 120, 40));
}

#[test]
fn wide_layout_puts_events_beside_accounts() {
    assert_snapshot("wide_160x36", &screen(&app_with(fixture()), 160, 36));
}

#[test]
fn narrow_layout() {
    assert_snapshot("narrow_80x24", &screen(&app_with(fixture()), 80, 24));
}

#[test]
fn cooling_down_and_auth_failed_accounts() {
    let snap = fixture();
    let troubled = snap
        .accounts
        .iter()
        .filter(|a| a.alias == "spare" || a.alias == "main" || a.alias == "old")
        .cloned()
        .collect();
    let app = app_with(Snapshot {
        accounts: troubled,
        events: vec![],
        ..snap
    });
    let out = screen(&app, 100, 16);
    assert!(out.contains("cooling down 4m 10s (rate_limit)"), "{out}");
    assert!(out.contains("auth failed (retry in 55s)"), "{out}");
    assert_snapshot("states_100x16", &out);
}

#[test]
fn usage_bars() {
    let mut a = account("openai", "bars");
    a.active = true;
    a.usage = Some(usage(
        "openai",
        "bars",
        Some("Pro"),
        &[
            ("empty", 0.0, Some(NOW + 30_000)),
            ("half", 50.0, Some(NOW + 5 * HOUR)),
            ("high", 95.0, None),
            ("full", 100.0, Some(NOW - 1)),
        ],
    ));
    let mut none = account("copilot", "unavailable");
    none.usage = Some(UsageSnapshot {
        confidence: Confidence::Unavailable,
        windows: None,
        used_percent: None,
        plan_name: None,
        message: "usage is not reported for API keys".into(),
        ..usage("copilot", "unavailable", None, &[])
    });
    let app = app_with(Snapshot {
        accounts: vec![none, a],
        ..Snapshot::default()
    });
    let out = screen(&app, 90, 26);
    assert!(out.contains("██████████░░░░░░░░░░  50%  resets in 5h 0m"), "{out}");
    assert!(out.contains("full  ████████████████████ 100%  reset due"), "{out}");
    assert_snapshot("usage_bars_90x26", &out);
}

#[test]
fn priority_matrix() {
    let mut app = app_with(fixture());
    app.view = View::Priority;
    app.priority_cursor = 1;
    assert_snapshot("priority_80x24", &screen(&app, 80, 24));
}

#[test]
fn model_picker_lists_seen_models_and_the_typed_one() {
    let mut app = app_with(fixture());
    app.view = View::Priority;
    app.overlay = Some(Overlay::ModelPick(Picker {
        provider: "openai".into(),
        seen: app.snapshot.seen_models("openai"),
        typed: "gpt".into(),
        cursor: 0,
    }));
    assert_snapshot("model_picker_80x24", &screen(&app, 80, 24));
}

#[test]
fn help_overlay_fits_80x24() {
    let mut app = app_with(fixture());
    app.overlay = Some(Overlay::Help);
    let out = screen(&app, 80, 24);
    assert!(out.contains("q Esc Ctrl+C"), "{out}");
    assert_snapshot("help_80x24", &out);
}

#[test]
fn rename_shows_the_alias_rule() {
    let mut app = app_with(fixture());
    app.overlay = Some(Overlay::Input(Input {
        purpose: InputPurpose::Rename {
            provider: "openai".into(),
            from: "work".into(),
        },
        text: "!!!".into(),
        error: Some(ALIAS_RULE.into()),
        waiting: None,
    }));
    assert_snapshot("rename_error_80x24", &screen(&app, 80, 24));
}

#[test]
fn pending_logins_show_while_auto_save_is_off() {
    let mut snap = fixture();
    snap.switches.auto_save = false;
    snap.accounts.truncate(1);
    snap.pending = vec![PendingRow {
        id: "p-1".into(),
        provider_id: "openai".into(),
        auth_type: "oauth".into(),
        source: "auth.json".into(),
        captured_at: NOW - 30_000,
        status: "pending".into(),
    }];
    let mut app = app_with(snap);
    app.cursor = 1;
    assert_eq!(app.selected(), Some(RowKey::Pending { id: "p-1".into() }));
    assert_snapshot("pending_80x24", &screen(&app, 80, 24));
}

#[test]
fn oauth_accounts_show_when_their_token_expires_and_when_they_need_a_login() {
    let mut soon = account("anthropic", "max");
    soon.auth_type = "oauth".into();
    soon.token_expires_at = Some(NOW + 42 * MIN);
    let mut refused = account("openai", "plus");
    refused.auth_type = "oauth".into();
    refused.token_expires_at = Some(NOW - MIN);
    refused.login_required = true;
    let mut gone = account("openai", "pro");
    gone.auth_type = "oauth".into();
    gone.token_expires_at = Some(NOW - MIN);
    let app = app_with(Snapshot {
        accounts: vec![soon, refused, gone],
        events: vec![],
        ..fixture()
    });
    let out = screen(&app, 120, 40);
    let line = |alias: &str| out.lines().find(|l| l.contains(alias)).unwrap_or_default().to_string();
    assert!(line(" max ").contains("token expires in 42m"), "{out}");
    assert!(line(" plus ").contains("needs login: /connect openai"), "{out}");
    assert!(line(" pro ").contains("token expired"), "{out}");
}

#[test]
fn countdowns_tick_with_the_clock() {
    let app = app_with(fixture());
    let later = text(&render(&app, 120, 40, NOW + 10_000, Theme::plain()));
    assert!(later.contains("cooling down 4m 0s (rate_limit)"), "{later}");
    let after = text(&render(&app, 120, 40, NOW + 5 * MIN, Theme::plain()));
    let spare = after.lines().find(|l| l.contains(" spare ")).unwrap();
    assert!(spare.contains("healthy"), "a passed cooldown shows as healthy: {after}");
}

#[test]
fn no_color_draws_without_colour_and_colour_is_used_otherwise() {
    let app = app_with(fixture());
    let plain = render(&app, 120, 40, NOW, Theme::plain());
    assert!(plain
        .content()
        .iter()
        .all(|c| c.fg == Color::Reset && c.bg == Color::Reset));
    let coloured = render(&app, 120, 40, NOW, Theme { color: true });
    assert!(coloured.content().iter().any(|c| c.fg != Color::Reset));
    assert_eq!(text(&plain), text(&coloured), "colour changes no text");
}

#[test]
fn every_size_from_80x24_up_draws_without_panicking() {
    let mut app = app_with(fixture());
    for (w, h) in [(80, 24), (81, 25), (100, 30), (139, 40), (140, 40), (200, 60), (40, 12)] {
        for view in [View::Accounts, View::Priority] {
            app.view = view;
            let out = screen(&app, w, h);
            assert!(out.contains("opencode-balancer"), "{w}x{h}: {out}");
        }
    }
}

#[test]
fn no_credential_is_ever_drawn() {
    // The views only ever get AccountView (which has no credential field); make sure the
    // snapshot's text carries none of the secrets the store would hold either.
    let out = screen(&app_with(fixture()), 160, 50);
    for secret in ["sk-", "Bearer", "refresh", "access"] {
        assert!(!out.contains(secret), "{secret} drawn: {out}");
    }
}

/// Retitle (OSC 0 … BEL), clear (CSI 2J, 7-bit and C1), reverse (U+202E), isolate, DEL.
const HOSTILE: &str = "Pro\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}2J\u{202e}txt\u{2066}\u{7f}";

fn assert_no_raw_controls(buf: &Buffer) {
    for cell in buf.content() {
        assert!(
            !cell.symbol().chars().any(opencode_balancer::safe_text::is_unsafe),
            "raw {:?} in a cell",
            cell.symbol()
        );
    }
}

#[test]
fn outside_text_with_control_and_bidi_characters_is_drawn_escaped() {
    let mut snap = fixture();
    let work = snap.accounts.iter_mut().find(|a| a.alias == "work").unwrap();
    let usage = work.usage.as_mut().unwrap();
    usage.plan_name = Some(HOSTILE.into());
    usage.windows.as_mut().unwrap()[0].name = "\u{1b}[2J".into();
    snap.priority[0].model_id = Some(HOSTILE.into());
    snap.events[0].message = HOSTILE.into();
    snap.events[1].kind = "\u{1b}]0;x\u{7}".into();
    let mut spare = account("openai", "nowin");
    spare.usage = Some(usage_message(HOSTILE));
    snap.accounts.push(spare);
    snap.model_history.push(("openai".into(), HOSTILE.into()));
    let app = app_with(snap);
    let buf = render(&app, 200, 60, NOW, Theme::plain());
    assert_no_raw_controls(&buf);
    let shown = text(&buf);
    assert!(shown.contains("plan Pro\\u{1b}]0;pwned\\u{7}"), "{shown}");
    assert!(
        shown.contains("Pro\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{9b}2J\\u{202e}txt"),
        "{shown}"
    );
    assert!(shown.contains("\\u{1b}]0;x\\u{7}"), "{shown}");

    let mut app = app;
    app.view = View::Priority;
    let buf = render(&app, 120, 30, NOW, Theme::plain());
    assert_no_raw_controls(&buf);
    assert!(text(&buf).contains("Pro\\u{1b}]0;pwned"), "{}", text(&buf));
    app.overlay = Some(Overlay::ModelPick(Picker {
        provider: "openai".into(),
        seen: app.snapshot.seen_models("openai"),
        typed: "gpt\u{202e}".into(),
        cursor: 0,
    }));
    let buf = render(&app, 120, 30, NOW, Theme::plain());
    assert_no_raw_controls(&buf);
    assert!(text(&buf).contains("gpt\\u{202e}"), "{}", text(&buf));
}

/// A usage snapshot with no number, only the provider's message.
fn usage_message(message: &str) -> UsageSnapshot {
    let mut u = usage("openai", "nowin", None, &[]);
    u.windows = None;
    u.used_percent = None;
    u.message = message.into();
    u
}
