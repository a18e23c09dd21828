//! Two more chart kinds of [`super::chart`], drawn the same way (one function for PNG and SVG):
//! stacked bars whose negative series stack below the axis (the lifecycle's dormant users), and a
//! heatmap of rates (cohort retention).

use super::chart::{err, mesh, style, DrawError, Series, AXIS, GRID, PALETTE, TEXT};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Stacked bars per x position: positive values stack up from 0, negative ones down.
pub fn stacked<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    x: &[String],
    series: &[Series],
    desc: &str,
    family: &str,
    k: f64,
    fmt: fn(f64) -> String,
) -> Result<(), DrawError> {
    let n = x.len().max(1);
    let sum =
        |i: usize, pos: bool| series.iter().map(|s| s.values.get(i).copied().unwrap_or(0.0)).filter(|v| (*v > 0.0) == pos).sum::<f64>();
    let top = (0..n).map(|i| sum(i, true)).fold(0.0, f64::max).max(1.0) * 1.1;
    let bottom = (0..n).map(|i| sum(i, false)).fold(0.0, f64::min) * 1.1;
    let mut chart = ChartBuilder::on(area)
        .x_label_area_size(40.0 * k)
        .y_label_area_size(84.0 * k)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), bottom.min(0.0)..top)
        .map_err(err)?;
    let xfmt = |v: &f64| {
        let i = v.round();
        if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < x.len() {
            x[i as usize].clone()
        } else {
            String::new()
        }
    };
    let yfmt = |v: &f64| if *v < 0.0 { format!("-{}", fmt(-v)) } else { fmt(*v) };
    mesh(&mut chart, n, &xfmt, &yfmt, desc, None, family, k)?;
    let (mut up, mut down) = (vec![0.0; n], vec![0.0; n]);
    for (si, s) in series.iter().enumerate() {
        let color = PALETTE[si % PALETTE.len()];
        let mut bars = Vec::new();
        for (i, v) in s.values.iter().enumerate().take(n) {
            let base = if *v >= 0.0 { &mut up[i] } else { &mut down[i] };
            bars.push(Rectangle::new([(i as f64 - 0.35, *base), (i as f64 + 0.35, *base + v)], color.filled()));
            *base += v;
        }
        chart
            .draw_series(bars)
            .map_err(err)?
            .label(s.name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(GRID)
        .label_font(style(family, 15.0 * k, &TEXT))
        .draw()
        .map_err(err)
}

/// A matrix of rates in [0, 1]: each cell shaded by its value (darker = higher) and labelled
/// with it; `None` cells are left blank.
pub fn heatmap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    rows: &[String],
    columns: &[String],
    values: &[Vec<Option<f64>>],
    family: &str,
    k: f64,
) -> Result<(), DrawError> {
    let (w, h) = area.dim_in_pixel();
    let (label_w, head_h) = (90.0 * k, 34.0 * k);
    let cw = (w as f64 - label_w) / columns.len().max(1) as f64;
    let rh = ((h as f64 - head_h) / rows.len().max(1) as f64).min(60.0 * k);
    let max = values.iter().flatten().flatten().copied().fold(0.0, f64::max).max(f64::MIN_POSITIVE);
    let ink = PALETTE[0];
    for (j, c) in columns.iter().enumerate() {
        let cx = label_w + cw * (j as f64 + 0.5);
        area.draw(&Text::new(
            c.clone(),
            (cx as i32, (head_h / 2.0) as i32),
            style(family, 16.0 * k, &AXIS).pos(Pos::new(HPos::Center, VPos::Center)),
        ))
        .map_err(err)?;
    }
    for (i, r) in rows.iter().enumerate() {
        let y0 = head_h + rh * i as f64;
        area.draw(&Text::new(
            r.clone(),
            ((label_w - 10.0 * k) as i32, (y0 + rh / 2.0) as i32),
            style(family, 16.0 * k, &TEXT).pos(Pos::new(HPos::Right, VPos::Center)),
        ))
        .map_err(err)?;
        for (j, v) in values.get(i).map(|v| v.as_slice()).unwrap_or(&[]).iter().enumerate() {
            let Some(v) = v else { continue };
            let x0 = label_w + cw * j as f64;
            let t = (v / max).clamp(0.0, 1.0);
            let mix = |a: u8| (255.0 - (255.0 - a as f64) * t) as u8;
            let fill = RGBColor(mix(ink.0), mix(ink.1), mix(ink.2));
            area.draw(&Rectangle::new(
                [((x0 + 1.0) as i32, (y0 + 1.0) as i32), ((x0 + cw - 1.0) as i32, (y0 + rh - 1.0) as i32)],
                fill.filled(),
            ))
            .map_err(err)?;
            let color = if t > 0.55 { &WHITE } else { &TEXT };
            area.draw(&Text::new(
                format!("{:.1}%", v * 100.0),
                ((x0 + cw / 2.0) as i32, (y0 + rh / 2.0) as i32),
                style(family, 14.0 * k, color).pos(Pos::new(HPos::Center, VPos::Center)),
            ))
            .map_err(err)?;
        }
    }
    Ok(())
}
