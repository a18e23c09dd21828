//! The report's charts, drawn with plotters into PNG (for the PDF and for `results/`) and SVG.
//!
//! A chart is described by a [`Chart`] (plain data, already labelled in the report language) and
//! drawn by one generic function for both backends, so the PNG and SVG always agree. One palette
//! ([`PALETTE`]) is used everywhere; its colours differ in lightness and every line series also
//! has its own marker and dash, so the charts stay readable when printed in grey.

use crate::render::fonts::Font;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Ink colours: dark blue, orange, teal, dark red, grey; distinct in lightness for grey print.
pub const PALETTE: [RGBColor; 5] =
    [RGBColor(31, 59, 115), RGBColor(230, 145, 30), RGBColor(42, 157, 143), RGBColor(150, 30, 45), RGBColor(120, 120, 120)];
pub(crate) const AXIS: RGBColor = RGBColor(90, 90, 90);
pub(crate) const GRID: RGBColor = RGBColor(225, 225, 225);
pub(crate) const TEXT: RGBColor = RGBColor(35, 35, 35);

/// One line of a line chart.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// One value per x position.
    pub values: Vec<f64>,
}

/// What a chart shows; every string is already in the report language.
#[derive(Clone, Debug)]
pub enum Kind {
    /// Centered bars that narrow stage by stage, each labelled with its value and rates.
    Funnel {
        /// (stage label, users, lines under the value, e.g. "38.2% of previous").
        stages: Vec<(String, f64, Vec<String>)>,
    },
    /// Lines over categorical x positions, on a left axis and an optional right axis.
    Lines {
        /// Label of each x position.
        x: Vec<String>,
        /// Show every n-th x label.
        x_every: usize,
        /// Series on the left axis.
        left: Vec<Series>,
        /// Series on the right axis (empty: no right axis).
        right: Vec<Series>,
        /// Left axis title (with unit).
        left_desc: String,
        /// Right axis title (with unit).
        right_desc: String,
        /// X axis title.
        x_desc: String,
        /// X positions to highlight (e.g. peak hours), with a note drawn at the first one.
        marks: Vec<usize>,
        /// The note for the highlighted positions.
        mark_note: String,
        /// Format left-axis values as percentages.
        percent: bool,
    },
    /// Bars, one per label, each with a value label.
    Bars {
        /// (label, value, value label).
        bars: Vec<(String, f64, String)>,
        /// Horizontal bars (labels on the left) instead of columns.
        horizontal: bool,
        /// Value axis title (with unit).
        desc: String,
    },
    /// Stacked bars per x position; negative series stack below the axis.
    Stacked {
        /// Label of each x position.
        x: Vec<String>,
        /// The series, stacked in order.
        series: Vec<Series>,
        /// Value axis title.
        desc: String,
    },
    /// A matrix of rates in [0, 1], shaded by value; `None` cells blank.
    Heatmap {
        /// Row labels.
        rows: Vec<String>,
        /// Column labels.
        columns: Vec<String>,
        /// values[row][column].
        values: Vec<Vec<Option<f64>>>,
    },
}

/// A chart: title, content and how to write numbers.
#[derive(Clone, Debug)]
pub struct Chart {
    /// File stem for the PNG/SVG files, e.g. `funnel`.
    pub name: &'static str,
    /// Title drawn at the top.
    pub title: String,
    /// Content.
    pub kind: Kind,
    /// Shown when there is nothing to draw (e.g. zero buyers).
    pub empty_note: String,
    /// Axis number format.
    pub fmt: fn(f64) -> String,
}

/// A chart that could not be drawn (plotters' or the PNG encoder's message).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DrawError(pub String);

type DrawResult<T> = Result<T, DrawError>;

pub(crate) fn err<E: std::fmt::Debug>(e: E) -> DrawError {
    DrawError(format!("{e:?}"))
}

/// Pixel size of the PNG (the PDF scales it to the text width).
pub const PNG_SIZE: (u32, u32) = (1600, 900);
/// Size of the SVG in CSS pixels.
pub const SVG_SIZE: (u32, u32) = (800, 450);

/// Registers `font` with plotters under its family name (once per process).
pub fn register(font: &Font) -> DrawResult<()> {
    plotters::style::register_font(&font.family, FontStyle::Normal, font.bytes)
        .map_err(|_| DrawError(format!("plotters cannot use {}", font.path.display())))?;
    plotters::style::register_font(&font.family, FontStyle::Bold, font.bytes)
        .map_err(|_| DrawError(format!("plotters cannot use {}", font.path.display())))
}

/// Draws `chart` as RGB pixels of [`PNG_SIZE`].
pub fn rgb(chart: &Chart, family: &str) -> DrawResult<Vec<u8>> {
    let (w, h) = PNG_SIZE;
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        draw(&root, chart, family, 2.0)?;
        root.present().map_err(err)?;
    }
    Ok(buf)
}

/// Encodes RGB pixels of [`PNG_SIZE`] as a PNG file's bytes.
pub fn png(rgb: &[u8]) -> DrawResult<Vec<u8>> {
    let (w, h) = PNG_SIZE;
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Default);
    let mut wr = enc.write_header().map_err(err)?;
    wr.write_image_data(rgb).map_err(err)?;
    wr.finish().map_err(err)?;
    Ok(out)
}

/// Draws `chart` as an SVG document of [`SVG_SIZE`] (text as text, in the font's family).
pub fn svg(chart: &Chart, family: &str) -> DrawResult<String> {
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, SVG_SIZE).into_drawing_area();
        draw(&root, chart, family, 1.0)?;
        root.present().map_err(err)?;
    }
    Ok(s)
}

pub(crate) fn style<'a>(family: &'a str, px: f64, color: &'static RGBColor) -> TextStyle<'a> {
    TextStyle::from((family, px).into_font()).color(color)
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &Chart, family: &str, k: f64) -> DrawResult<()> {
    root.fill(&WHITE).map_err(err)?;
    let (w, _) = root.dim_in_pixel();
    let title = style(family, 22.0 * k, &TEXT);
    root.draw(&Text::new(c.title.clone(), ((w / 2) as i32, (14.0 * k) as i32), title.pos(Pos::new(HPos::Center, VPos::Top))))
        .map_err(err)?;
    let body = root.margin((48.0 * k) as i32, (14.0 * k) as i32, (14.0 * k) as i32, (22.0 * k) as i32);
    let empty = match &c.kind {
        Kind::Funnel { stages } => stages.iter().all(|s| s.1 <= 0.0),
        Kind::Lines { left, right, .. } => left.iter().chain(right).all(|s| s.values.iter().all(|v| *v <= 0.0)),
        Kind::Bars { bars, .. } => bars.iter().all(|b| b.1 <= 0.0),
        Kind::Stacked { series, .. } => series.iter().all(|s| s.values.iter().all(|v| *v == 0.0)),
        Kind::Heatmap { values, .. } => values.iter().flatten().all(|v| v.is_none()),
    };
    if empty {
        let (bw, bh) = body.dim_in_pixel();
        return body
            .draw(&Text::new(
                c.empty_note.clone(),
                ((bw / 2) as i32, (bh / 2) as i32),
                style(family, 20.0 * k, &AXIS).pos(Pos::new(HPos::Center, VPos::Center)),
            ))
            .map_err(err);
    }
    match &c.kind {
        Kind::Funnel { stages } => funnel(&body, stages, family, k, c.fmt),
        Kind::Bars { bars, horizontal: true, desc } => hbars(&body, bars, desc, family, k),
        Kind::Bars { bars, horizontal: false, desc } => vbars(&body, bars, desc, family, k, c.fmt),
        Kind::Lines { .. } => lines(&body, &c.kind, family, k, c.fmt),
        Kind::Stacked { x, series, desc } => super::grid::stacked(&body, x, series, desc, family, k, c.fmt),
        Kind::Heatmap { rows, columns, values } => super::grid::heatmap(&body, rows, columns, values, family, k),
    }
}

fn funnel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    stages: &[(String, f64, Vec<String>)],
    family: &str,
    k: f64,
    fmt: fn(f64) -> String,
) -> DrawResult<()> {
    let (w, h) = area.dim_in_pixel();
    let (w, h) = (w as f64, h as f64);
    let max = stages.iter().map(|s| s.1).fold(0.0, f64::max).max(1.0);
    let (label_w, notes_w) = (150.0 * k, 250.0 * k);
    let bar_max = (w - label_w - notes_w).max(10.0);
    let cx = label_w + bar_max / 2.0;
    let row = h / stages.len().max(1) as f64;
    for (i, (name, v, notes)) in stages.iter().enumerate() {
        let bw = (v / max * bar_max).max(2.0);
        let top = i as f64 * row + row * 0.1;
        let bottom = (i + 1) as f64 * row - row * 0.1;
        let color = PALETTE[i % PALETTE.len()];
        area.draw(&Rectangle::new([((cx - bw / 2.0) as i32, top as i32), ((cx + bw / 2.0) as i32, bottom as i32)], color.filled()))
            .map_err(err)?;
        let mid = (top + bottom) / 2.0;
        area.draw(&Text::new(
            name.clone(),
            ((label_w - 12.0 * k) as i32, mid as i32),
            style(family, 19.0 * k, &TEXT).pos(Pos::new(HPos::Right, VPos::Center)),
        ))
        .map_err(err)?;
        let x = (label_w + bar_max + 14.0 * k) as i32;
        let line = 21.0 * k;
        let first = mid - line * notes.len() as f64 / 2.0;
        area.draw(&Text::new(fmt(*v), (x, first as i32), style(family, 20.0 * k, &TEXT).pos(Pos::new(HPos::Left, VPos::Center))))
            .map_err(err)?;
        for (j, n) in notes.iter().enumerate() {
            let y = first + line * (j as f64 + 1.0);
            area.draw(&Text::new(n.clone(), (x, y as i32), style(family, 15.0 * k, &AXIS).pos(Pos::new(HPos::Left, VPos::Center))))
                .map_err(err)?;
        }
    }
    Ok(())
}

fn hbars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    bars: &[(String, f64, String)],
    desc: &str,
    family: &str,
    k: f64,
) -> DrawResult<()> {
    let (w, h) = area.dim_in_pixel();
    let (w, h) = (w as f64, h as f64 - 30.0 * k);
    let label_style = style(family, 17.0 * k, &TEXT);
    let label_w =
        bars.iter().map(|b| area.estimate_text_size(&b.0, &label_style).map(|s| s.0).unwrap_or(0)).max().unwrap_or(0) as f64 + 14.0 * k;
    let value_w = 190.0 * k;
    let bar_max = (w - label_w - value_w).max(10.0);
    let max = bars.iter().map(|b| b.1).fold(0.0, f64::max).max(f64::MIN_POSITIVE);
    let row = h / bars.len().max(1) as f64;
    area.draw(&PathElement::new(vec![(label_w as i32, 0), (label_w as i32, h as i32)], AXIS.stroke_width(1))).map_err(err)?;
    for (i, (name, v, note)) in bars.iter().enumerate() {
        let top = i as f64 * row + row * 0.15;
        let bottom = (i + 1) as f64 * row - row * 0.15;
        let bw = (v / max * bar_max).max(1.0);
        area.draw(&Rectangle::new([(label_w as i32 + 1, top as i32), ((label_w + bw) as i32, bottom as i32)], PALETTE[0].filled()))
            .map_err(err)?;
        let mid = ((top + bottom) / 2.0) as i32;
        area.draw(&Text::new(name.clone(), ((label_w - 8.0 * k) as i32, mid), label_style.pos(Pos::new(HPos::Right, VPos::Center))))
            .map_err(err)?;
        area.draw(&Text::new(
            note.clone(),
            ((label_w + bw + 8.0 * k) as i32, mid),
            style(family, 16.0 * k, &TEXT).pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(err)?;
    }
    area.draw(&Text::new(
        desc.to_string(),
        ((label_w + bar_max / 2.0) as i32, (h + 22.0 * k) as i32),
        style(family, 15.0 * k, &AXIS).pos(Pos::new(HPos::Center, VPos::Center)),
    ))
    .map_err(err)
}

fn vbars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    bars: &[(String, f64, String)],
    desc: &str,
    family: &str,
    k: f64,
    fmt: fn(f64) -> String,
) -> DrawResult<()> {
    let max = bars.iter().map(|b| b.1).fold(0.0, f64::max) * 1.15;
    let n = bars.len();
    let mut chart = ChartBuilder::on(area)
        .x_label_area_size(40.0 * k)
        .y_label_area_size(80.0 * k)
        .build_cartesian_2d(0f64..n as f64, 0f64..max.max(f64::MIN_POSITIVE))
        .map_err(err)?;
    let labels: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    let xfmt = |x: &f64| {
        let i = x.floor() as usize;
        if (x - i as f64 - 0.5).abs() < 1e-6 {
            labels.get(i).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    let yfmt = |y: &f64| fmt(*y);
    mesh(&mut chart, n * 2 + 1, &xfmt, &yfmt, desc, None, family, k)?;
    chart
        .draw_series(
            bars.iter().enumerate().map(|(i, b)| Rectangle::new([(i as f64 + 0.2, 0.0), (i as f64 + 0.8, b.1)], PALETTE[0].filled())),
        )
        .map_err(err)?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, b)| {
            Text::new(b.2.clone(), (i as f64 + 0.5, b.1), style(family, 14.0 * k, &TEXT).pos(Pos::new(HPos::Center, VPos::Bottom)))
        }))
        .map_err(err)?;
    Ok(())
}

/// Length: one chart drawn step by step (axes, two value scales, series, legend); every step uses the same plotters chart context.
fn lines<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, kind: &Kind, family: &str, k: f64, fmt: fn(f64) -> String) -> DrawResult<()> {
    let Kind::Lines { x, x_every, left, right, left_desc, right_desc, x_desc, marks, mark_note, percent } = kind else {
        return Ok(());
    };
    let n = x.len().max(1);
    let top = |s: &[Series]| s.iter().flat_map(|s| s.values.iter().copied()).fold(0.0, f64::max) * 1.12;
    let (lmax, rmax) = (top(left).max(f64::MIN_POSITIVE), top(right).max(f64::MIN_POSITIVE));
    let xr = -0.5f64..(n as f64 - 0.5);
    let mut chart = ChartBuilder::on(area)
        .x_label_area_size(52.0 * k)
        .y_label_area_size(84.0 * k)
        .right_y_label_area_size(if right.is_empty() { 10.0 * k } else { 84.0 * k })
        .build_cartesian_2d(xr.clone(), 0f64..lmax)
        .map_err(err)?
        .set_secondary_coord(xr, 0f64..rmax);
    let every = (*x_every).max(1);
    let xfmt = |v: &f64| {
        let i = v.round();
        if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < x.len() && (i as usize).is_multiple_of(every) {
            x[i as usize].clone()
        } else {
            String::new()
        }
    };
    let pct = |v: &f64| format!("{:.0}%", v * 100.0);
    let yfmt = |v: &f64| fmt(*v);
    let lfmt: &dyn Fn(&f64) -> String = if *percent { &pct } else { &yfmt };
    mesh(&mut chart, n, &xfmt, lfmt, left_desc, Some(x_desc), family, k)?;
    if !right.is_empty() {
        chart
            .configure_secondary_axes()
            .axis_style(AXIS)
            .y_label_formatter(&yfmt)
            .y_desc(right_desc.as_str())
            .label_style(style(family, 16.0 * k, &TEXT))
            .axis_desc_style(style(family, 16.0 * k, &AXIS))
            .draw()
            .map_err(err)?;
    }
    // Highlighted positions (drawn first, under the lines).
    let band = RGBColor(255, 236, 200);
    chart
        .draw_series(marks.iter().map(|&m| Rectangle::new([(m as f64 - 0.45, 0.0), (m as f64 + 0.45, lmax)], band.filled())))
        .map_err(err)?;
    if let Some(&m) = marks.first() {
        chart
            .draw_series(std::iter::once(Text::new(
                mark_note.clone(),
                (m as f64, lmax * 0.985),
                style(family, 14.0 * k, &TEXT).pos(Pos::new(HPos::Right, VPos::Top)),
            )))
            .map_err(err)?;
    }
    let stroke = (2.5 * k) as u32;
    let marker = (4.0 * k) as i32;
    for (si, s) in left.iter().chain(right.iter()).enumerate() {
        let color = PALETTE[si % PALETTE.len()];
        let pts: Vec<(f64, f64)> = s.values.iter().enumerate().map(|(i, v)| (i as f64, *v)).collect();
        let line_style = color.stroke_width(stroke);
        let on_left = si < left.len();
        let anno = if on_left {
            let a = if si % 2 == 1 {
                chart.draw_series(DashedLineSeries::new(pts.clone(), (8.0 * k) as u32, (5.0 * k) as u32, line_style)).map_err(err)?
            } else {
                chart.draw_series(LineSeries::new(pts.clone(), line_style)).map_err(err)?
            };
            a.label(s.name.clone())
        } else {
            let a = if si % 2 == 1 {
                chart
                    .draw_secondary_series(DashedLineSeries::new(pts.clone(), (8.0 * k) as u32, (5.0 * k) as u32, line_style))
                    .map_err(err)?
            } else {
                chart.draw_secondary_series(LineSeries::new(pts.clone(), line_style)).map_err(err)?
            };
            a.label(s.name.clone())
        };
        let legend_marker = si;
        anno.legend(move |(x, y)| {
            EmptyElement::at((x, y))
                + PathElement::new(vec![(0, 0), (20 * marker / 4, 0)], color.stroke_width(stroke))
                + Polygon::new(marker_points(legend_marker, (10 * marker / 4, 0), marker), color.filled())
        });
        let shapes = pts.iter().map(|p| EmptyElement::at(*p) + Polygon::new(marker_points(si, (0, 0), marker), color.filled()));
        if on_left {
            chart.draw_series(shapes).map_err(err)?;
        } else {
            chart.draw_secondary_series(shapes).map_err(err)?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .legend_area_size((30.0 * k) as i32)
        .background_style(WHITE.mix(0.85))
        .border_style(GRID)
        .label_font(style(family, 15.0 * k, &TEXT))
        .draw()
        .map_err(err)?;
    Ok(())
}

/// The axes of every chart with x and y in f64: no vertical grid lines, light horizontal ones,
/// `x_labels` label positions, and the labels and axis titles in the report's font.
#[allow(clippy::too_many_arguments)]
pub(crate) fn mesh<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    x_labels: usize,
    xfmt: &dyn Fn(&f64) -> String,
    yfmt: &dyn Fn(&f64) -> String,
    y_desc: &str,
    x_desc: Option<&str>,
    family: &str,
    k: f64,
) -> DrawResult<()> {
    let mut m = chart.configure_mesh();
    m.disable_x_mesh()
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .axis_style(AXIS)
        .x_labels(x_labels)
        .x_label_formatter(xfmt)
        .y_label_formatter(yfmt)
        .y_desc(y_desc)
        .label_style(style(family, 16.0 * k, &TEXT))
        .axis_desc_style(style(family, 16.0 * k, &AXIS));
    if let Some(d) = x_desc {
        m.x_desc(d);
    }
    m.draw().map_err(err)
}

/// Marker `i` as a polygon around `at`: circle, triangle, square, diamond (so series differ
/// without colour).
fn marker_points(i: usize, at: (i32, i32), r: i32) -> Vec<(i32, i32)> {
    let r = r as f64;
    let (n, rot, scale) = match i % 4 {
        0 => (16, 0.0, 1.0),
        1 => (3, -std::f64::consts::FRAC_PI_2, 1.3),
        2 => (4, std::f64::consts::FRAC_PI_4, 1.3),
        _ => (4, 0.0, 1.4),
    };
    (0..n)
        .map(|k| {
            let a = rot + k as f64 * std::f64::consts::TAU / n as f64;
            (at.0 + (r * scale * a.cos()).round() as i32, at.1 + (r * scale * a.sin()).round() as i32)
        })
        .collect()
}
