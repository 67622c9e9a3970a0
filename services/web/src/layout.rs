//! The page shell (head, skip link, navigation, footer) and small formatting helpers shared by
//! the pages. Every page works without JavaScript; `static/app.js` only adds live updates and
//! the deadline countdown.

use accord_proto::v1::{Choice, Date, Position, position};
use axum::response::Html;
use maud::{DOCTYPE, Markup, html};

/// The navigation entries: (path, label).
pub const NAV: [(&str, &str); 4] = [
    ("/alliance", "Alliance"),
    ("/proposals", "Proposals"),
    ("/scenarios", "Scenarios"),
    ("/policies", "Policies"),
];

/// A whole page. `current` is the navigation path to mark as the current page.
pub fn page(title: &str, current: Option<&str>, body: Markup) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — accord" }
                link rel="stylesheet" href="/static/style.css";
                script src="/static/app.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    nav aria-label="Main" {
                        a.brand href="/" { "accord" }
                        ul {
                            @for (path, label) in NAV {
                                li {
                                    @if current == Some(path) {
                                        a href=(path) aria-current="page" { (label) }
                                    } @else {
                                        a href=(path) { (label) }
                                    }
                                }
                            }
                        }
                    }
                }
                main #main tabindex="-1" { (body) }
                footer { p { "accord — how an alliance decides. Pages work without JavaScript; live updates use Server-Sent Events." } }
            }
        }
    };
    Html(markup.into_string())
}

/// A choice in words.
pub fn choice_word(choice: i32) -> &'static str {
    match Choice::try_from(choice) {
        Ok(Choice::Support) => "support",
        Ok(Choice::Object) => "object",
        Ok(Choice::Abstain) => "abstain",
        _ => "no ballot",
    }
}

/// The symbol shown with a choice, so that no colour stands alone.
pub fn choice_symbol(choice: i32) -> &'static str {
    match Choice::try_from(choice) {
        Ok(Choice::Support) => "✓",
        Ok(Choice::Object) => "✗",
        Ok(Choice::Abstain) => "–",
        _ => "·",
    }
}

/// The CSS class of a choice.
pub fn choice_class(choice: i32) -> &'static str {
    match Choice::try_from(choice) {
        Ok(Choice::Support) => "support",
        Ok(Choice::Object) => "object",
        Ok(Choice::Abstain) => "abstain",
        _ => "none",
    }
}

/// A date as YYYY-MM-DD.
pub fn date(d: &Option<Date>) -> String {
    match d {
        Some(d) => format!("{:04}-{:02}-{:02}", d.year, d.month, d.day),
        None => "—".to_string(),
    }
}

/// A position (a date or an amount).
pub fn position(p: &Option<Position>) -> String {
    match p.as_ref().and_then(|p| p.value.as_ref()) {
        Some(position::Value::Date(d)) => date(&Some(*d)),
        Some(position::Value::Amount(a)) => format!("{a:.0}"),
        None => String::new(),
    }
}

/// A timestamp as RFC 3339 (UTC, seconds).
pub fn rfc3339(t: &Option<prost_types::Timestamp>) -> String {
    t.as_ref()
        .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// A timestamp for people.
pub fn when(t: &Option<prost_types::Timestamp>) -> String {
    t.as_ref()
        .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "—".to_string())
}

/// A share in [0, 1] as a percentage.
pub fn percent(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// The id in a resource name (`members/DEU` → `DEU`).
pub fn id_of(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// A horizontal bar with its value in text (for power indices and shares).
pub fn bar(label: &str, value: f64, max: f64, text: &str) -> Markup {
    let width = if max > 0.0 {
        (value / max * 100.0).clamp(0.0, 100.0)
    } else {
        0.0
    };
    html! {
        div.bar-row {
            span.bar-label { (label) }
            span.bar-track aria-hidden="true" { span.bar-fill style=(format!("width:{width:.1}%")) {} }
            span.bar-value { (text) }
        }
    }
}

/// A protocol enum value in words: `MISSION_STATUS_DRAWING_DOWN` → `drawing down`.
pub fn enum_word(str_name: &str, prefix: &str) -> String {
    str_name
        .strip_prefix(prefix)
        .unwrap_or(str_name)
        .to_ascii_lowercase()
        .replace('_', " ")
}
