//! The seat chart of a proposal: every active ally as a seat of a hemicycle, coloured by its
//! ballot with the Okabe–Ito palette, and for every colour a pattern and a symbol too (✓ support,
//! ✗ object, – abstain, · no ballot), so that no information is carried by colour alone. The
//! chart is inline SVG with a title, a description and a title per seat, and the ballot table
//! next to it is its text alternative. Seats keep their place (alphabetical by code) so that a
//! live update only changes a seat's class, symbol and title (`static/app.js`).

use std::collections::HashMap;

use accord_proto::v1::{Choice, Member};
use maud::{Markup, html};

use crate::layout::{choice_class, choice_symbol, choice_word};

/// The chart's size.
const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 340.0;

/// Counts per choice, in legend order.
pub fn counts(members: &[&Member], choices: &HashMap<String, i32>) -> [(i32, usize); 4] {
    let order = [
        Choice::Support as i32,
        Choice::Abstain as i32,
        Choice::Unspecified as i32,
        Choice::Object as i32,
    ];
    order.map(|c| {
        (
            c,
            members
                .iter()
                .filter(|m| choices.get(&m.code).copied().unwrap_or(0) == c)
                .count(),
        )
    })
}

/// The chart and its legend. `members` are the active allies; `choices` maps a member code to
/// its current ballot's choice.
pub fn seat_chart(members: &[&Member], choices: &HashMap<String, i32>) -> Markup {
    let mut seated: Vec<&Member> = members.to_vec();
    seated.sort_by(|a, b| a.code.cmp(&b.code));
    let seats =
        accord_scenario::svg::hemicycle(seated.len(), (WIDTH / 2.0, HEIGHT - 25.0), 170.0, 52.0);
    let counts = counts(members, choices);
    let summary = counts
        .iter()
        .map(|(c, n)| format!("{}: {n}", choice_word(*c)))
        .collect::<Vec<_>>()
        .join(", ");
    html! {
        figure.seats {
            svg #seat-chart viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img"
                aria-labelledby="seats-title seats-desc" xmlns="http://www.w3.org/2000/svg" {
                title #seats-title { (format!("Seat chart: {} allies by ballot", seated.len())) }
                desc #seats-desc { (summary) ". The table of ballots below lists every seat." }
                defs {
                    pattern #pattern-object width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)" {
                        rect width="8" height="8" fill="#D55E00" {}
                        rect width="3" height="8" fill="#ffffff" fill-opacity="0.55" {}
                    }
                    pattern #pattern-abstain width="7" height="7" patternUnits="userSpaceOnUse" {
                        rect width="7" height="7" fill="#E69F00" {}
                        circle cx="3.5" cy="3.5" r="1.6" fill="#ffffff" fill-opacity="0.7" {}
                    }
                }
                @for (member, (x, y)) in seated.iter().zip(&seats) {
                    @let choice = choices.get(&member.code).copied().unwrap_or(0);
                    g.seat.(choice_class(choice)) id=(format!("seat-{}", member.code)) data-member=(member.code) {
                        title { (member.code) " " (member.display_name) ": " (choice_word(choice)) }
                        circle cx=(format!("{x:.1}")) cy=(format!("{y:.1}")) r="21" {}
                        text.code x=(format!("{x:.1}")) y=(format!("{:.1}", y - 3.0)) text-anchor="middle" { (member.code) }
                        text.symbol x=(format!("{x:.1}")) y=(format!("{:.1}", y + 12.0)) text-anchor="middle" { (choice_symbol(choice)) }
                    }
                }
            }
            figcaption {
                ul.legend aria-label="Legend" {
                    @for (choice, n) in counts {
                        li {
                            span.swatch.(choice_class(choice)) aria-hidden="true" { (choice_symbol(choice)) }
                            " " (choice_word(choice)) ": "
                            strong id=(format!("count-{}", choice_class(choice))) { (n) }
                        }
                    }
                }
            }
        }
    }
}
