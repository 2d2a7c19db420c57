//! Charts drawn on the server as SVG: readable without scripts, no charting service, colours
//! from the stylesheet (light and dark), and a table of the same figures for whoever cannot see
//! the picture.

use leptos::prelude::*;

use crate::components::human_size;
use crate::types::DayValue;

/// What a chart's figures are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Counts (pushes, pulls).
    Count,
    /// Bytes.
    Bytes,
}

impl Unit {
    fn show(self, v: i64) -> String {
        match self {
            Self::Count => v.to_string(),
            Self::Bytes => human_size(v),
        }
    }
}

/// How a chart draws its figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One bar per day (events).
    Bars,
    /// A filled line (a level over time).
    Area,
}

const WIDTH: i64 = 600;
const HEIGHT: i64 = 150;

/// The top of the scale: the largest figure rounded up to a round number (1, 2 or 5 × 10ⁿ, or
/// the next KiB/MiB/GiB multiple for bytes), so the axis label reads well.
pub fn scale_top(max: i64, unit: Unit) -> i64 {
    if max <= 0 {
        return 1;
    }
    let base: i64 = match unit {
        Unit::Count => 10,
        Unit::Bytes => 1024,
    };
    let mut step: i64 = 1;
    while step.saturating_mul(base) <= max {
        step = step.saturating_mul(base);
    }
    for m in [1, 2, 5, 10] {
        let top = step.saturating_mul(m);
        if top >= max {
            return top;
        }
    }
    step.saturating_mul(base)
}

/// A chart of one figure per day, with its title, total or latest value, and a table.
#[component]
pub fn DayChart(
    /// The heading above the chart.
    title: &'static str,
    /// The days, oldest first.
    points: Vec<DayValue>,
    /// What the figures are.
    unit: Unit,
    /// Bars or an area.
    shape: Shape,
) -> impl IntoView {
    let max = points.iter().map(|p| p.value).max().unwrap_or(0);
    let top = scale_top(max, unit);
    let n = points.len().max(1) as i64;
    let plot = HEIGHT;
    let y = move |v: i64| plot - v.saturating_mul(plot) / top;
    let summary = match shape {
        Shape::Bars => format!(
            "{} in all, at most {} a day",
            unit.show(points.iter().map(|p| p.value).sum()),
            unit.show(max)
        ),
        Shape::Area => format!("{} now", unit.show(points.last().map_or(0, |p| p.value))),
    };
    let label = format!("{title}: {summary}, over the last {} days", points.len());
    let slot = WIDTH / n;
    let marks = match shape {
        Shape::Bars => points
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let h = plot - y(p.value);
                view! {
                    <rect class="bar" x=(i as i64 * slot + 1).to_string() y=y(p.value).to_string()
                        width=(slot - 2).max(1).to_string() height=h.to_string()>
                        <title>{format!("{}: {}", p.day, unit.show(p.value))}</title>
                    </rect>
                }
            })
            .collect_view()
            .into_any(),
        Shape::Area => {
            let xs = |i: usize| i as i64 * slot + slot / 2;
            let line: Vec<String> =
                points.iter().enumerate().map(|(i, p)| format!("{},{}", xs(i), y(p.value))).collect();
            let area = format!(
                "{},{} {} {},{}",
                xs(0),
                plot,
                line.join(" "),
                xs(points.len().saturating_sub(1)),
                plot
            );
            view! {
                <polygon class="area" points=area />
                <polyline class="line" points=line.join(" ") />
            }
            .into_any()
        }
    };
    let first = points.first().map(|p| p.day.clone()).unwrap_or_default();
    let last = points.last().map(|p| p.day.clone()).unwrap_or_default();
    let rows = points
        .iter()
        .map(|p| view! { <tr><td>{p.day.clone()}</td><td class="num">{unit.show(p.value)}</td></tr> })
        .collect_view();
    view! {
        <figure class="chart">
            <figcaption><strong>{title}</strong> " " <span class="muted">{summary}</span></figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label=label preserveAspectRatio="none">
                <line class="grid" x1="0" y1="0" x2=WIDTH.to_string() y2="0" />
                <line class="grid" x1="0" y1=(plot / 2).to_string() x2=WIDTH.to_string() y2=(plot / 2).to_string() />
                <line class="axis" x1="0" y1=plot.to_string() x2=WIDTH.to_string() y2=plot.to_string() />
                {marks}
            </svg>
            // The labels are text beside the picture, not in it: the picture stretches to the
            // page's width, text in it would stretch too.
            <div class="chart-axis" aria-hidden="true">
                <span>{first}</span>
                <span>{format!("scale {}", unit.show(top))}</span>
                <span>{last}</span>
            </div>
            <details class="chart-table">
                <summary>{format!("{title} as a table")}</summary>
                <table class="list">
                    <thead><tr><th>"Day"</th><th class="num">{match unit { Unit::Count => "Count", Unit::Bytes => "Size" }}</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </details>
        </figure>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_end_on_round_numbers() {
        assert_eq!(scale_top(0, Unit::Count), 1);
        assert_eq!(scale_top(1, Unit::Count), 1);
        assert_eq!(scale_top(7, Unit::Count), 10);
        assert_eq!(scale_top(13, Unit::Count), 20);
        assert_eq!(scale_top(420, Unit::Count), 500);
        assert_eq!(scale_top(3 << 20, Unit::Bytes), 5 << 20);
        assert_eq!(scale_top(1536, Unit::Bytes), 2048);
    }
}
