//! The PDF report and its charts.
//!
//! Everything shown comes from [`Metrics`] (the same function as `ecomm analyze`), digested once
//! into [`Facts`] for the written conclusions. Layout (A4): cover; key figures; one section per
//! analysis (chart, key numbers, conclusion); the RFM table; insights; appendix with every metric
//! definition and the cleaning summary; page numbers on every page after the cover.

pub mod build;
pub mod narrative;
pub mod registry;

use crate::i18n::{int, pct, segment_name, stage_name, t, tr, ui, Lang};
use crate::insights::facts::Facts;
use crate::insights::{Insight, Source};
use crate::metrics::Metrics;
use crate::render::chart::{self, Chart, DrawError, Kind, Series};
use crate::render::fonts::Font;
use crate::render::num;
use crate::render::pdf::{ink, Align, Doc, PdfError, WIDTH};
use crate::store::IngestTotals;
use rayon::prelude::*;

/// What the report is made of.
pub struct Input<'a> {
    /// The metrics of the range.
    pub metrics: &'a Metrics,
    /// Their digest (the conclusions read it).
    pub facts: &'a Facts,
    /// Cleaning totals over all ingests.
    pub totals: &'a IngestTotals,
    /// Files that were ingested.
    pub sources: &'a [String],
    /// The DB file, as given.
    pub db: String,
    /// Language.
    pub lang: Lang,
    /// Generation time, already formatted in the analysis time zone.
    pub generated: String,
    /// The insights to print, and where they came from.
    pub insights: (Source, Vec<Insight>),
    /// A line under the insights heading (e.g. how to enable the LLM).
    pub insights_note: String,
}

/// A drawn chart: its description, RGB pixels (for the PDF), PNG bytes and SVG text.
pub struct Drawn {
    /// The chart.
    pub chart: Chart,
    /// PNG file bytes.
    pub png: Vec<u8>,
    /// SVG document.
    pub svg: String,
}

/// The report's charts, labelled in `lang`: the six of the built-in analyses, then those of the
/// registry's sections.
pub fn charts(m: &Metrics, lang: Lang) -> Vec<Chart> {
    let mut all = builtin_charts(m, lang);
    all.extend(registry::charts(m, lang));
    all
}

/// The six charts of the built-in analyses.
///
/// Length: a declarative list, one literal per chart, in report order.
fn builtin_charts(m: &Metrics, lang: Lang) -> Vec<Chart> {
    let fmt: fn(f64) -> String = if lang == Lang::Zh { num::compact_zh } else { num::compact_en };
    let empty = tr(lang, &ui::NOTHING_TO_DRAW_IN_THIS);
    let stages = m
        .funnel
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let note = if i == 0 {
                vec![tr(lang, &ui::BASE_100)]
            } else {
                vec![
                    format!("{} {}", t(lang, "rate_prev"), pct(s.rate_from_prev)),
                    format!("{} {}", t(lang, "rate_first"), pct(s.rate_from_first)),
                ]
            };
            (stage_name(lang, &s.stage), s.users as f64, note)
        })
        .collect();
    let hourly_series = |name: &str, get: fn(&crate::metrics::Hour) -> u64| Series {
        name: stage_name(lang, name),
        values: m.hourly.iter().map(|h| get(h) as f64).collect(),
    };
    let events = |h: &crate::metrics::Hour| h.pv + h.fav + h.cart + h.buy;
    let mut by_events: Vec<_> = m.hourly.iter().map(|h| (events(h), h.hour)).collect();
    by_events.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let peaks: Vec<usize> = by_events.iter().take(3).filter(|e| e.0 > 0).map(|e| e.1 as usize).collect();
    let dates: Vec<String> = m.daily.iter().map(|d| d.date.format("%m-%d").to_string()).collect();
    let tz = &m.range.timezone;
    vec![
        Chart {
            name: "funnel",
            title: tr(lang, &ui::CONVERSION_FUNNEL_USERS_PER_STAGE),
            kind: Kind::Funnel { stages },
            empty_note: empty.clone(),
            fmt,
        },
        Chart {
            name: "hourly",
            title: tr(lang, &ui::ACTIVITY_BY_HOUR_OF_DAY),
            kind: Kind::Lines {
                x: (0..24).map(|h| format!("{h}")).collect(),
                x_every: 2,
                left: vec![hourly_series("pv", |h| h.pv)],
                right: vec![hourly_series("fav", |h| h.fav), hourly_series("cart", |h| h.cart), hourly_series("buy", |h| h.buy)],
                left_desc: tr(lang, &ui::PV_EVENTS),
                right_desc: tr(lang, &ui::FAV_CART_BUY_EVENTS),
                x_desc: format!("{} ({tz})", tr(lang, &ui::HOUR)),
                marks: peaks,
                mark_note: tr(lang, &ui::PEAK_HOURS),
                percent: false,
            },
            empty_note: empty.clone(),
            fmt,
        },
        Chart {
            name: "daily",
            title: tr(lang, &ui::DAILY_TREND_ACTIVE_USERS_AND),
            kind: Kind::Lines {
                x: dates.clone(),
                x_every: 1 + dates.len() / 16,
                left: vec![Series { name: tr(lang, &ui::ACTIVE_USERS_UV), values: m.daily.iter().map(|d| d.users as f64).collect() }],
                right: vec![Series { name: tr(lang, &ui::BUYS), values: m.daily.iter().map(|d| d.buy as f64).collect() }],
                left_desc: tr(lang, &ui::USERS),
                right_desc: tr(lang, &ui::BUY_EVENTS),
                x_desc: format!("{} ({tz})", tr(lang, &ui::DATE)),
                marks: Vec::new(),
                mark_note: String::new(),
                percent: false,
            },
            empty_note: empty.clone(),
            fmt,
        },
        Chart {
            name: "retention",
            title: tr(lang, &ui::DAY_1_RETENTION_BY_DATE),
            kind: Kind::Bars {
                bars: m.retention.iter().map(|r| (r.date.format("%m-%d").to_string(), r.rate * 100.0, pct(r.rate))).collect(),
                horizontal: false,
                desc: tr(lang, &ui::RETENTION),
            },
            empty_note: tr(lang, &ui::A_SINGLE_DAY_NO_DAY),
            fmt,
        },
        Chart {
            name: "rfm",
            title: tr(lang, &ui::RFM_SEGMENTS_BUYERS),
            kind: Kind::Bars {
                bars: m
                    .rfm
                    .segments
                    .iter()
                    .map(|s| (segment_name(lang, &s.segment), s.users as f64, format!("{} ({})", int(s.users), pct(s.share))))
                    .collect(),
                horizontal: true,
                desc: tr(lang, &ui::USERS_2),
            },
            empty_note: tr(lang, &ui::NO_BUYERS_IN_THIS_RANGE),
            fmt,
        },
        Chart {
            name: "categories",
            title: tr(lang, &ui::TOP_10_CATEGORIES_BY_BUYS),
            kind: Kind::Bars {
                bars: m
                    .top_categories
                    .iter()
                    .map(|c| (format!("{} {}", tr(lang, &ui::CAT), c.category_id), c.buys as f64, int(c.buys)))
                    .collect(),
                horizontal: true,
                desc: tr(lang, &ui::BUY_EVENTS_2),
            },
            empty_note: tr(lang, &ui::NO_BUYS_IN_THIS_RANGE),
            fmt,
        },
    ]
}

/// Draws every chart (in parallel) as pixels, PNG and SVG.
pub fn draw(charts: Vec<Chart>, font: &Font) -> Result<Vec<Drawn>, DrawError> {
    chart::register(font)?;
    charts
        .into_par_iter()
        .map(|c| {
            let rgb = chart::rgb(&c, &font.family)?;
            let png = chart::png(&rgb)?;
            let svg = chart::svg(&c, &font.family)?;
            Ok(Drawn { chart: c, png, svg })
        })
        .collect()
}

/// The cover page.
fn cover_page(d: &mut Doc, input: &Input, title: &str) {
    let (m, lang) = (input.metrics, input.lang);
    d.set_y(600.0);
    d.text_at(54.0, 640.0, 11.0, ink::MUTED, &tr(lang, &ui::E_COMMERCE_USER_BEHAVIOUR_ANALYTICS));
    d.rect(54.0, 628.0, 60.0, 3.0, ink::ACCENT);
    d.text_at(54.0, 590.0, 28.0, ink::ACCENT, title);
    d.set_y(560.0);
    let range = format!("{} – {}", m.range.from, m.range.to);
    let window = format!("{} – {}", m.range.window_start, m.range.window_end);
    let sources = if input.sources.is_empty() { "-".to_string() } else { input.sources.join(", ") };
    let mut cover = vec![
        vec![tr(lang, &ui::DATA_SOURCE), format!("{}  ({}: {})", sources, tr(lang, &ui::DB), input.db)],
        vec![t(lang, "range").to_string(), range],
        vec![t(lang, "window").to_string(), window],
        vec![t(lang, "timezone").to_string(), m.range.timezone.clone()],
        vec![tr(lang, &ui::EVENTS_ANALYSED), int(m.totals.events)],
        vec![tr(lang, &ui::GENERATED_AT), input.generated.clone()],
    ];
    if !m.filter.is_all() {
        cover.insert(2, vec![tr(lang, &ui::FILTER), crate::i18n::describe_filter(lang, &m.filter.behaviors, &m.filter.categories)]);
    }
    d.table(&[tr(lang, &ui::ITEM), tr(lang, &ui::VALUE)], &cover, &[0.25, 0.75], &[Align::Left, Align::Left], 10.0);
    d.paragraph(&tr(lang, &ui::GENERATED_BY_ECOMM_FROM_THE), 9.0, ink::MUTED);
    d.new_page();
}

/// Section 1: the headline numbers as cards and a table.
fn key_figures(d: &mut Doc, m: &Metrics, lang: Lang) {
    d.heading(&format!("1. {}", t(lang, "kpis")), 1);
    let k = &m.kpis;
    let kpis = vec![
        vec![t(lang, "uv").to_string(), int(k.uv), tr(lang, &ui::DISTINCT_USERS_WITH_ANY_EVENT)],
        vec![t(lang, "pv").to_string(), int(k.pv), tr(lang, &ui::PAGE_VIEW_EVENTS)],
        vec![tr(lang, &ui::BUY_EVENTS_3), int(k.buys), tr(lang, &ui::BUY_EVENTS_4)],
        vec![t(lang, "buyers").to_string(), int(k.buyers), tr(lang, &ui::USERS_WITH_AT_LEAST_ONE)],
        vec![t(lang, "conversion").to_string(), pct(k.pv_to_buy_conversion), tr(lang, &ui::BUY_USERS_PV_USERS)],
        vec![t(lang, "repurchase_rate").to_string(), pct(k.repurchase_rate), tr(lang, &ui::USERS_WITH_2_BUYS_BUYERS)],
        vec![t(lang, "avg_retention").to_string(), pct(k.avg_day1_retention), tr(lang, &ui::MEAN_OF_THE_DAILY_DAY)],
        vec![t(lang, "peak_hour").to_string(), format!("{}:00", k.peak_hour), tr(lang, &ui::HOUR_WITH_MOST_EVENTS_LOCAL)],
    ];
    let cards: Vec<(String, String)> = kpis.iter().map(|r| (r[0].clone(), r[1].clone())).collect();
    d.cards(&cards, 4);
    d.table(
        &[tr(lang, &ui::METRIC), tr(lang, &ui::VALUE_2), tr(lang, &ui::MEANING)],
        &kpis,
        &[0.36, 0.2, 0.44],
        &[Align::Left, Align::Right, Align::Left],
        10.0,
    );
}

/// Sections 2–7: one per analysis, with the charts in `drawn` order.
fn analysis_sections(d: &mut Doc, m: &Metrics, f: &Facts, lang: Lang, drawn: &mut impl Iterator<Item = Drawn>) -> Result<(), PdfError> {
    let k = &m.kpis;
    let funnel_numbers = m
        .funnel
        .iter()
        .map(|s| {
            format!(
                "{}: {} {} / {} {}; {} {}, {} {}",
                stage_name(lang, &s.stage),
                int(s.users),
                tr(lang, &ui::USERS_3),
                int(s.events),
                tr(lang, &ui::EVENTS),
                t(lang, "rate_prev"),
                pct(s.rate_from_prev),
                t(lang, "rate_first"),
                pct(s.rate_from_first)
            )
        })
        .collect();
    section(d, lang, 2, t(lang, "funnel").to_string(), funnel_numbers, narrative::funnel(f, lang), drawn.next())?;
    let hour_numbers = vec![
        format!("{}: {}:00", t(lang, "peak_hour"), f.peak_hour),
        format!("{}: {}:00", tr(lang, &ui::TROUGH_HOUR), f.trough_hour),
        format!("{}: {:.1}×", tr(lang, &ui::PEAK_TROUGH_EVENTS), f.peak_to_trough),
        format!("{}: {}", tr(lang, &ui::SHARE_OF_EVENTS_18_00), pct(f.evening_share)),
        format!("{}: {}:00", tr(lang, &ui::HOUR_WITH_MOST_BUYS), f.buy_peak_hour),
    ];
    section(d, lang, 3, t(lang, "hourly").to_string(), hour_numbers, narrative::hourly(f, lang), drawn.next())?;
    let mut day_numbers = vec![format!("{}: {}", tr(lang, &ui::MEAN_DAILY_ACTIVE_USERS), int(f.avg_daily_uv.round() as u64))];
    for day in &m.daily {
        day_numbers.push(format!("{}: UV {}, PV {}, {} {}", day.date, int(day.users), int(day.pv), tr(lang, &ui::BUYS_2), int(day.buy)));
    }
    section(d, lang, 4, t(lang, "daily").to_string(), day_numbers, narrative::daily(f, lang), drawn.next())?;
    let mut ret_numbers = vec![format!("{}: {}", t(lang, "avg_retention"), pct(k.avg_day1_retention))];
    for r in &m.retention {
        ret_numbers.push(format!("{}: {} / {} = {}", r.date, int(r.retained), int(r.cohort), pct(r.rate)));
    }
    section(d, lang, 5, t(lang, "retention").to_string(), ret_numbers, narrative::retention(f, lang), drawn.next())?;
    let rfm_numbers = vec![
        format!("{}: {}", t(lang, "buyers"), int(m.rfm.buyers)),
        format!("{}: {}", t(lang, "repeat_buyers"), int(m.repurchase.repeat_buyers)),
        format!("{}: {}", t(lang, "repurchase_rate"), pct(m.repurchase.rate)),
    ];
    section(d, lang, 6, t(lang, "rfm").to_string(), rfm_numbers, narrative::rfm(f, lang), drawn.next())?;
    d.heading(&tr(lang, &ui::RFM_SEGMENT_TABLE), 2);
    let rows = crate::render::table::rfm_rows(m, lang);
    let header: Vec<String> = crate::render::table::rfm_header(lang).iter().map(|h| h.to_string()).collect();
    d.table(
        &header,
        &rows,
        &[0.16, 0.1, 0.09, 0.1, 0.08, 0.08, 0.39],
        &[Align::Left, Align::Right, Align::Right, Align::Right, Align::Right, Align::Right, Align::Left],
        8.5,
    );
    let cat_numbers = m
        .top_categories
        .iter()
        .enumerate()
        .map(|(i, c)| format!("#{} {} {}: {} {}", i + 1, tr(lang, &ui::CATEGORY), c.category_id, int(c.buys), tr(lang, &ui::BUYS_3)))
        .chain(std::iter::once(format!("{}: {}", tr(lang, &ui::TOP_10_SHARE_OF_ALL), pct(f.top10_buy_share))))
        .collect();
    section(d, lang, 7, t(lang, "top_categories").to_string(), cat_numbers, narrative::categories(f, lang), drawn.next())?;

    Ok(())
}

/// Section `n` (after the analyses): the insights.
fn insights_section(d: &mut Doc, input: &Input, n: usize) {
    let lang = input.lang;
    d.new_page();
    let (source, insights) = &input.insights;
    let heading = match source {
        Source::Rules => tr(lang, &ui::RECOMMENDATIONS_RULE_BASED_NO_LANGUAGE),
        Source::Llm => tr(lang, &ui::RECOMMENDATIONS_LOCAL_LANGUAGE_MODEL_NUMBERS),
    };
    d.heading(&format!("{n}. {heading}"), 1);
    if !input.insights_note.is_empty() {
        d.paragraph(&input.insights_note, 9.0, ink::MUTED);
    }
    for (i, ins) in insights.iter().enumerate() {
        d.heading(&format!("{}. [{}] P{}", i + 1, crate::i18n::area_name(lang, &ins.area), ins.priority), 2);
        d.bullet(&format!("{}{}", tr(lang, &ui::FINDING), ins.finding), 9.5);
        d.bullet(&format!("{}{}", tr(lang, &ui::ACTION), ins.action), 9.5);
        d.bullet(&format!("{}{}", tr(lang, &ui::EXPECTED_IMPACT), ins.expected_impact), 9.5);
    }
}

/// The appendix: definitions and the cleaning summary.
fn appendix(d: &mut Doc, input: &Input) {
    let lang = input.lang;
    d.new_page();
    d.heading(&tr(lang, &ui::APPENDIX_A_METRIC_DEFINITIONS), 1);
    let more = input.metrics.more.sections().map(|s| (s.title.get(lang), s.definition.get(lang)));
    for (name, def) in narrative::definitions(lang).into_iter().chain(more) {
        d.bullet(&format!("{name}{}{def}", if lang == Lang::Zh { "：" } else { ": " }), 9.0);
    }
    d.heading(&tr(lang, &ui::APPENDIX_B_CLEANING_SUMMARY), 1);
    let tt = input.totals;
    let rejected = tt.malformed + tt.bad_behavior + tt.out_of_window + tt.duplicate;
    let clean = vec![
        vec![tr(lang, &ui::INGESTS), int(tt.ingests)],
        vec![t(lang, "rows_read").into(), int(tt.rows_read)],
        vec![t(lang, "rows_loaded").into(), int(tt.rows_loaded)],
        vec![t(lang, "rejected").into(), int(rejected)],
        vec![format!("  {}", t(lang, "malformed")), int(tt.malformed)],
        vec![format!("  {}", t(lang, "bad_behavior")), int(tt.bad_behavior)],
        vec![format!("  {}", t(lang, "out_of_window")), int(tt.out_of_window)],
        vec![format!("  {}", t(lang, "duplicate")), int(tt.duplicate)],
        vec![t(lang, "rejects_file").into(), crate::store::rejects_path(std::path::Path::new(&input.db)).display().to_string()],
    ];
    d.table(&[tr(lang, &ui::ITEM), tr(lang, &ui::ROWS)], &clean, &[0.45, 0.55], &[Align::Left, Align::Right], 9.5);
    d.paragraph(&tr(lang, &ui::CLEANING_RULES_BOM_BLANK_LINES), 9.0, ink::MUTED);
}

/// One analysis section: heading, chart, key numbers and a conclusion. It starts a new page
/// unless all of it fits on the current one.
fn section(
    d: &mut Doc,
    lang: Lang,
    n: usize,
    heading: String,
    numbers: Vec<String>,
    conclusion: String,
    drawn: Option<Drawn>,
) -> Result<(), PdfError> {
    let need = 50.0
        + drawn.as_ref().map(|_| Doc::image_height(chart::PNG_SIZE, WIDTH)).unwrap_or(0.0)
        + numbers.iter().map(|s| d.paragraph_height(s, 9.5)).sum::<f32>()
        + 60.0
        + d.paragraph_height(&conclusion, 10.0);
    if need < 700.0 {
        d.ensure(need);
    }
    d.heading(&format!("{n}. {heading}"), 1);
    if let Some(c) = drawn {
        d.image_png(&c.png, WIDTH)?;
    }
    d.heading(&tr(lang, &ui::KEY_NUMBERS), 2);
    for s in numbers {
        d.bullet(&s, 9.5);
    }
    d.heading(&tr(lang, &ui::CONCLUSION), 2);
    d.paragraph(&conclusion, 10.0, ink::TEXT);
    Ok(())
}

/// Lays out the PDF; returns its bytes and page count.
pub fn pdf(input: &Input, font: &Font, drawn: Vec<Drawn>) -> Result<(Vec<u8>, usize), PdfError> {
    let lang = input.lang;
    let title = tr(lang, &ui::USER_BEHAVIOUR_ANALYSIS_REPORT);
    let mut d = Doc::new(font, &title)?;
    cover_page(&mut d, input, &title);
    key_figures(&mut d, input.metrics, lang);
    let mut drawn = drawn.into_iter();
    analysis_sections(&mut d, input.metrics, input.facts, lang, &mut drawn)?;
    let next = registry::sections(&mut d, input.metrics, lang, &mut drawn, 8)?;
    insights_section(&mut d, input, next);
    appendix(&mut d, input);
    let footer = |p: usize, n: usize| {
        crate::i18n::prose::fill(lang, &crate::i18n::prose::FOOTER, &[("title", title.clone()), ("p", p.to_string()), ("n", n.to_string())])
    };
    Ok(d.finish(&footer))
}
