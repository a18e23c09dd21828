//! The analyses as an Excel workbook (`ecomm export --what metrics --format xlsx`, the
//! dashboard's XLSX button): one sheet per [`Sheet`], each with its title and the range it covers,
//! a bold header row that stays in view (frozen panes), the values as numbers with Excel number
//! formats (counts with thousands separators, rates as percentages of the same ratio the JSON
//! holds, measures with one decimal), column widths that fit their text (CJK counted double), its
//! further tables, headline numbers and definition below, and a native Excel chart per plot beside
//! the table, drawn from a "chart data" block under the table so the chart stays live when an
//! operator edits it. A heatmap has no chart type in Excel: its block gets a three-colour scale.

use crate::i18n::width;
use crate::metrics::section::{Cell, ShownPlot};
use crate::metrics::sheets::Sheet;
use rust_xlsxwriter::{
    Chart, ChartDataLabel, ChartLegendPosition, ChartType, Color, ConditionalFormat3ColorScale, Format, FormatBorder, Workbook, Worksheet,
    XlsxError,
};

/// The words of a workbook besides the sheets' own.
pub struct Words {
    /// Under each title: the range, time zone and filter.
    pub caption: String,
    /// "Key numbers".
    pub headline: String,
    /// "Definition".
    pub definition: String,
    /// "Chart data".
    pub chart_data: String,
}

struct Formats {
    title: Format,
    caption: Format,
    header: Format,
    header_right: Format,
    bold: Format,
    wrap: Format,
    int: Format,
    rate: Format,
    num: Format,
    secs: Format,
}

impl Formats {
    fn new() -> Formats {
        Formats {
            title: Format::new().set_bold().set_font_size(14),
            caption: Format::new().set_italic().set_font_color(Color::RGB(0x595959)),
            header: Format::new().set_bold().set_background_color(Color::RGB(0xD9E1F2)).set_border_bottom(FormatBorder::Thin),
            header_right: Format::new()
                .set_bold()
                .set_background_color(Color::RGB(0xD9E1F2))
                .set_border_bottom(FormatBorder::Thin)
                .set_align(rust_xlsxwriter::FormatAlign::Right),
            bold: Format::new().set_bold(),
            wrap: Format::new().set_text_wrap().set_align(rust_xlsxwriter::FormatAlign::Top),
            int: Format::new().set_num_format("#,##0"),
            rate: Format::new().set_num_format("0.00%"),
            num: Format::new().set_num_format("#,##0.0"),
            secs: Format::new().set_num_format("#,##0\" s\""),
        }
    }
}

/// Rows of the title, the caption and a blank line above a sheet's header.
const HEADER_ROW: u32 = 3;

/// Writes `sheets` as one workbook into `out`; returns the number of table rows written.
pub fn write<W: std::io::Write + std::io::Seek + Send>(out: W, sheets: &[Sheet], words: &Words) -> Result<u64, XlsxError> {
    let mut book = Workbook::new();
    let f = Formats::new();
    let mut names: Vec<String> = Vec::new();
    let mut rows = 0u64;
    for s in sheets {
        let name = sheet_name(&s.name, &names);
        names.push(name.clone());
        let ws = book.add_worksheet();
        ws.set_name(&name)?;
        rows += one(ws, &name, s, words, &f)?;
    }
    book.save_to_writer(out)?;
    Ok(rows)
}

/// An Excel sheet name: without `[]:*?/\`, at most 31 characters, unique in the workbook.
pub fn sheet_name(want: &str, taken: &[String]) -> String {
    let clean: String = want.chars().filter(|c| !"[]:*?/\\".contains(*c)).collect();
    let clean = clean.trim().trim_matches('\'').to_string();
    let base: String = if clean.is_empty() { "Sheet".into() } else { clean.chars().take(31).collect() };
    let mut name = base.clone();
    let mut n = 2;
    while taken.iter().any(|t| t.to_lowercase() == name.to_lowercase()) {
        let tail = format!(" {n}");
        name = format!("{}{tail}", base.chars().take(31 - tail.len()).collect::<String>());
        n += 1;
    }
    name
}

fn cell(ws: &mut Worksheet, row: u32, col: u16, c: &Cell, f: &Formats) -> Result<(), XlsxError> {
    let num = |ws: &mut Worksheet, v: f64, fmt: &Format| {
        if v.is_finite() {
            ws.write_number_with_format(row, col, v, fmt).map(|_| ())
        } else {
            Ok(())
        }
    };
    match c {
        Cell::Int(n) => num(ws, *n as f64, &f.int),
        Cell::Rate(r) => num(ws, *r, &f.rate),
        Cell::Num(x) => num(ws, *x, &f.num),
        Cell::Secs(x) => num(ws, *x, &f.secs),
        Cell::Text(s) => ws.write_string(row, col, s).map(|_| ()),
        Cell::Empty => Ok(()),
    }
}

/// A table at `row`: a header, then the rows; returns the next free row.
fn table(
    ws: &mut Worksheet,
    row: u32,
    columns: &[String],
    rows: &[Vec<Cell>],
    f: &Formats,
    widths: &mut Vec<usize>,
) -> Result<u32, XlsxError> {
    // Headers sit over their values: left over the first column (names, dates), right over numbers.
    for (c, h) in columns.iter().enumerate() {
        ws.write_string_with_format(row, c as u16, h, if c == 0 { &f.header } else { &f.header_right })?;
        grow(widths, c, width(h));
    }
    for (i, r) in rows.iter().enumerate() {
        for (c, v) in r.iter().enumerate() {
            cell(ws, row + 1 + i as u32, c as u16, v, f)?;
            grow(widths, c, width(&v.show()));
        }
    }
    Ok(row + 1 + rows.len() as u32)
}

fn grow(widths: &mut Vec<usize>, c: usize, w: usize) {
    if widths.len() <= c {
        widths.resize(c + 1, 0);
    }
    widths[c] = widths[c].max(w);
}

/// One sheet; returns its number of table rows.
fn one(ws: &mut Worksheet, name: &str, s: &Sheet, words: &Words, f: &Formats) -> Result<u64, XlsxError> {
    ws.write_string_with_format(0, 0, &s.title, &f.title)?;
    ws.write_string_with_format(1, 0, &words.caption, &f.caption)?;
    let mut widths = vec![];
    let mut row = table(ws, HEADER_ROW, &s.columns, &s.rows, f, &mut widths)?;
    ws.set_freeze_panes(HEADER_ROW + 1, 0)?;
    let mut count = s.rows.len() as u64;
    for (title, columns, rows) in &s.tables {
        ws.write_string_with_format(row + 1, 0, title, &f.bold)?;
        row = table(ws, row + 2, columns, rows, f, &mut widths)?;
        count += rows.len() as u64;
    }
    if !s.headline.is_empty() {
        ws.write_string_with_format(row + 1, 0, &words.headline, &f.bold)?;
        row += 2;
        for (label, value) in &s.headline {
            ws.write_string(row, 0, label)?;
            grow(&mut widths, 0, width(label));
            cell(ws, row, 1, value, f)?;
            grow(&mut widths, 1, width(&value.show()));
            row += 1;
        }
    }
    // The definition is written last, wrapped across the table's columns once their widths are known.
    let definition_row =
        (!s.definition.is_empty()).then(|| ws.write_string_with_format(row + 1, 0, &words.definition, &f.bold).map(|_| row + 2));
    let definition_row = definition_row.transpose()?;
    if definition_row.is_some() {
        row += 3;
    }
    // Charts go right of the widest block, so they never cover a number.
    let plot_cols = s.plots.iter().map(|p| 1 + if p.kind == "heatmap" { p.columns.len() } else { p.series.len() + p.right.len() });
    let widest = s.tables.iter().map(|t| t.1.len()).chain(plot_cols).fold(s.columns.len().max(2), usize::max);
    let beside = widest as u16 + 1;
    for (i, p) in s.plots.iter().enumerate() {
        let at = row + 1;
        row = chart_data(ws, at, p, words, f, &mut widths)?;
        draw(ws, name, p, at + 1, HEADER_ROW + 20 * i as u32, beside)?;
    }
    let widths: Vec<f64> = widths.iter().map(|w| (*w as f64 + 2.0).clamp(8.0, 60.0)).collect();
    for (c, w) in widths.iter().enumerate() {
        ws.set_column_width(c as u16, *w)?;
    }
    if let Some(r) = definition_row {
        let last = s.columns.len().max(6) - 1;
        let across: f64 = (0..=last).map(|c| widths.get(c).copied().unwrap_or(8.43)).sum();
        let lines = (width(&s.definition) as f64 / across).ceil().max(1.0);
        ws.merge_range(r, 0, r, last as u16, &s.definition, &f.wrap)?;
        ws.set_row_height(r, 15.0 * lines + 3.0)?;
    }
    // Printed (or turned into a PDF) one page wide, landscape A4.
    ws.set_landscape().set_paper_size(9).set_print_fit_to_pages(1, 0);
    Ok(count)
}

/// Writes the plot's numbers at `row` (a title line, a header, one row per label); returns the
/// next free row.
fn chart_data(ws: &mut Worksheet, row: u32, p: &ShownPlot, words: &Words, f: &Formats, widths: &mut Vec<usize>) -> Result<u32, XlsxError> {
    ws.write_string_with_format(row, 0, format!("{}: {}", words.chart_data, p.title), &f.bold)?;
    let series: Vec<&(String, Vec<Option<f64>>)> = p.series.iter().chain(&p.right).collect();
    let mut columns = vec![String::new()];
    if p.kind == "heatmap" {
        columns.extend(p.columns.iter().cloned());
    } else {
        columns.extend(series.iter().map(|(n, _)| if n.is_empty() { p.axis.clone() } else { n.clone() }));
    }
    let value = |v: &Option<f64>| match v {
        Some(x) if p.percent || p.kind == "heatmap" => Cell::Rate(*x),
        Some(x) if x.fract() == 0.0 && (0.0..9e15).contains(x) => Cell::Int(*x as u64),
        Some(x) => Cell::Num(*x),
        None => Cell::Empty,
    };
    let rows: Vec<Vec<Cell>> = if p.kind == "heatmap" {
        series.iter().map(|(n, v)| std::iter::once(Cell::Text(n.clone())).chain(v.iter().map(value)).collect()).collect()
    } else {
        p.labels
            .iter()
            .enumerate()
            .map(|(i, l)| {
                std::iter::once(Cell::Text(l.clone())).chain(series.iter().map(|s| value(&s.1.get(i).copied().flatten()))).collect()
            })
            .collect()
    };
    let end = table(ws, row + 1, &columns, &rows, f, widths)?;
    if p.kind == "heatmap" && !rows.is_empty() && columns.len() > 1 {
        ws.add_conditional_format(row + 2, 1, end - 1, (columns.len() - 1) as u16, &ConditionalFormat3ColorScale::new())?;
    }
    Ok(end)
}

/// Inserts the native chart of a plot whose data block's header is at `header`.
fn draw(ws: &mut Worksheet, sheet: &str, p: &ShownPlot, header: u32, at: u32, col: u16) -> Result<(), XlsxError> {
    let n = p.labels.len() as u32;
    if n == 0 || p.kind == "heatmap" {
        return Ok(());
    }
    let bar = p.kind == "funnel" || (p.kind == "bars" && p.horizontal);
    let kind = match p.kind {
        "lines" => ChartType::Line,
        "stacked" => ChartType::ColumnStacked,
        _ if bar => ChartType::Bar,
        _ => ChartType::Column,
    };
    let mut chart = Chart::new(kind);
    chart.title().set_name(p.title);
    let (first, last) = (header + 1, header + n);
    let all = p.series.len() + p.right.len();
    let fmt = if p.percent { "0.0%" } else { "#,##0" };
    // Bars carry their values as labels (the PDF and the page print them too).
    let labelled = matches!(p.kind, "funnel" | "bars") && n <= 24;
    for i in 0..all {
        let c = 1 + i as u16;
        let s = chart.add_series();
        s.set_categories((sheet, first, 0, last, 0)).set_values((sheet, first, c, last, c)).set_name((sheet, header, c));
        if i >= p.series.len() {
            s.set_secondary_axis(true);
        }
        if labelled {
            s.set_data_label(ChartDataLabel::new().show_value().set_num_format(fmt));
        }
    }
    let fmt = if p.percent { "0%" } else { "#,##0" };
    if bar {
        chart.y_axis().set_reverse();
        chart.x_axis().set_name(p.axis.as_str()).set_num_format(fmt);
    } else {
        chart.y_axis().set_name(p.axis.as_str()).set_num_format(fmt);
    }
    if !p.right.is_empty() {
        chart.y2_axis().set_name(p.right_axis.as_str()).set_num_format(fmt);
    }
    if all > 1 {
        chart.legend().set_position(ChartLegendPosition::Bottom);
    } else {
        chart.legend().set_hidden();
    }
    chart.set_width(640).set_height(360);
    ws.insert_chart(at, col, &chart)?;
    Ok(())
}
