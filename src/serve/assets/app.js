// ecomm dashboard: vanilla JS, no network beyond this server. Every number comes from
// /api/metrics (the same JSON as `ecomm analyze --format json`).
"use strict";

const PALETTE = ["#1f3b73", "#e6911e", "#2a9d8f", "#961e2d", "#787878"];
// The labels in both languages come from the server's catalogue (src/i18n/dashboard.rs).
const T = __ECOMM_LABELS__;

const BEHAVIORS = ["pv", "fav", "cart", "buy"];
const state = { lang: "zh", from: "", to: "", behaviors: [], category: "", journey: {}, meta: null, metrics: null, seq: 0, role: "viewer", insights: null };
// The journey options the page toggles, with the server's defaults (a default stays out of the URL).
const JOURNEY = { funnel_by: "user", funnel_window: "1d", bought_with: "" };
const $ = (id) => document.getElementById(id);
const t = (k) => T[state.lang][k] || k;
const int = (n) => Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
const pct = (r) => (r * 100).toFixed(2) + "%";
function compact(v) {
  const a = Math.abs(v);
  const trim = (x, u) => (x >= 100 ? x.toFixed(0) : x.toFixed(1)).replace(/\.0$/, "") + u;
  if (state.lang === "zh") {
    if (a >= 1e8) return trim(v / 1e8, "亿");
    if (a >= 1e4) return trim(v / 1e4, "万");
  } else {
    if (a >= 1e9) return trim(v / 1e9, "B");
    if (a >= 1e6) return trim(v / 1e6, "M");
    if (a >= 1e4) return trim(v / 1e3, "K");
  }
  return Number.isInteger(v) ? int(v) : v.toFixed(1);
}
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

function query(extra) {
  const p = new URLSearchParams();
  if (state.from) p.set("from", state.from);
  if (state.to) p.set("to", state.to);
  if (state.behaviors.length) p.set("behavior", state.behaviors.join(","));
  if (state.category) p.set("category", state.category);
  for (const [k, v] of Object.entries(state.journey)) if (v && v !== JOURNEY[k]) p.set(k, v);
  if (extra) for (const [k, v] of Object.entries(extra)) p.set(k, v);
  return p.toString();
}

async function getJSON(url) {
  const r = await fetch(url);
  const body = await r.json().catch(() => ({ error: r.statusText }));
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

function showError(msg) {
  $("error").hidden = !msg;
  $("error").textContent = msg || "";
}

// ---------- tooltip ----------
function tip(evt, text) {
  const el = $("tip");
  if (!text) { el.hidden = true; return; }
  el.hidden = false;
  el.textContent = text;
  el.style.left = evt.clientX + 12 + "px";
  el.style.top = evt.clientY + 12 + "px";
}
function hoverable(svg) {
  svg.querySelectorAll("[data-tip]").forEach((n) => {
    n.addEventListener("mousemove", (e) => tip(e, n.getAttribute("data-tip")));
    n.addEventListener("mouseleave", (e) => tip(e, ""));
  });
}
function mount(id, svg) {
  $(id).innerHTML = svg;
  hoverable($(id));
}

// ---------- charts (SVG) ----------
const W = 640, H = 320;

function empty() {
  return `<svg viewBox="0 0 ${W} ${H}"><text x="${W / 2}" y="${H / 2}" text-anchor="middle">${esc(t("empty"))}</text></svg>`;
}

function funnel(stages) {
  if (!stages.some((s) => s.users > 0)) return empty();
  const max = Math.max(...stages.map((s) => s.users), 1), lw = 90, rw = 170, bw = W - lw - rw, row = H / stages.length;
  let s = `<svg viewBox="0 0 ${W} ${H}">`;
  stages.forEach((st, i) => {
    const w = Math.max(2, (st.users / max) * bw), x = lw + (bw - w) / 2, y = i * row + row * 0.12, h = row * 0.76;
    const rates = i === 0 ? "100%" : `${t("prev")} ${pct(st.rate_from_prev)} · ${t("first")} ${pct(st.rate_from_first)}`;
    const tipText = `${t(st.stage + "_s")}: ${int(st.users)} ${t("users")}, ${int(st.events)} ${t("events_l")}\n${rates}`;
    s += `<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="${PALETTE[i]}" data-tip="${esc(tipText)}"/>`;
    s += `<text x="${lw - 8}" y="${y + h / 2 + 4}" text-anchor="end">${esc(t(st.stage + "_s"))}</text>`;
    s += `<text x="${lw + bw + 8}" y="${y + h / 2 - 3}">${int(st.users)}</text>`;
    s += `<text x="${lw + bw + 8}" y="${y + h / 2 + 12}" style="fill:#646464">${esc(i === 0 ? "100%" : t("prev") + " " + pct(st.rate_from_prev))}</text>`;
  });
  return s + "</svg>";
}

// The smallest 1/2/2.5/5 × 10^k at or above v, so axis ticks are round numbers.
function nice(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  const n = v / p;
  return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 2.5 ? 2.5 : n <= 5 ? 5 : 10) * p;
}

function lines(x, left, right, opts) {
  const all = left.concat(right);
  if (!all.some((s) => s.values.some((v) => v > 0))) return empty();
  const m = { l: 56, r: right.length ? 56 : 12, t: 28, b: 28 }, pw = W - m.l - m.r, ph = H - m.t - m.b, n = x.length;
  const lmax = nice(Math.max(...left.flatMap((s) => s.values), 1) * 1.05);
  const rmax = right.length ? nice(Math.max(...right.flatMap((s) => s.values), 1) * 1.05) : 1;
  const X = (i) => m.l + (n === 1 ? pw / 2 : (i * pw) / (n - 1));
  const Y = (v, max) => m.t + ph - (v / max) * ph;
  let s = `<svg viewBox="0 0 ${W} ${H}"><g class="grid">`;
  for (let k = 0; k <= 4; k++) {
    const y = m.t + (ph * k) / 4;
    s += `<line x1="${m.l}" x2="${m.l + pw}" y1="${y}" y2="${y}"/>`;
    s += `<text x="${m.l - 6}" y="${y + 4}" text-anchor="end">${compact(lmax * (1 - k / 4))}</text>`;
    if (right.length) s += `<text x="${m.l + pw + 6}" y="${y + 4}">${compact(rmax * (1 - k / 4))}</text>`;
  }
  s += "</g>";
  (opts.marks || []).forEach((i) => {
    s += `<rect x="${X(i) - pw / n / 2}" y="${m.t}" width="${pw / n}" height="${ph}" fill="#ffecc8"/>`;
  });
  const every = Math.max(1, Math.ceil(n / 12));
  x.forEach((lab, i) => {
    if (i % every === 0) s += `<text x="${X(i)}" y="${H - 8}" text-anchor="middle">${esc(lab)}</text>`;
  });
  s += `<line class="axis" x1="${m.l}" x2="${m.l + pw}" y1="${m.t + ph}" y2="${m.t + ph}"/>`;
  all.forEach((ser, si) => {
    const max = si < left.length ? lmax : rmax;
    const pts = ser.values.map((v, i) => `${X(i)},${Y(v, max)}`).join(" ");
    s += `<polyline fill="none" stroke="${PALETTE[si]}" stroke-width="2" ${si % 2 ? 'stroke-dasharray="6 4"' : ""} points="${pts}"/>`;
    ser.values.forEach((v, i) => (s += `<circle cx="${X(i)}" cy="${Y(v, max)}" r="2.5" fill="${PALETTE[si]}"/>`));
    s += `<rect x="${m.l + si * 110}" y="6" width="10" height="10" fill="${PALETTE[si]}"/><text x="${m.l + si * 110 + 14}" y="15">${esc(ser.name)}</text>`;
  });
  // One hover band per x position, listing every series there.
  x.forEach((lab, i) => {
    const text = lab + "\n" + all.map((ser) => `${ser.name}: ${opts.percent ? pct(ser.values[i]) : int(ser.values[i])}`).join("\n");
    s += `<rect x="${X(i) - pw / Math.max(n - 1, 1) / 2}" y="${m.t}" width="${pw / Math.max(n - 1, 1)}" height="${ph}" fill="transparent" data-tip="${esc(text)}"/>`;
  });
  // Anomaly alerts: a red triangle above each flagged x position, its sentences on hover.
  (opts.alerts || []).forEach((a) => {
    s += `<path class="alert" d="M${X(a.i) - 6},${m.t - 10} h12 l-6,10 z" fill="#d62728" data-tip="${esc(a.text)}"/>`;
  });
  return s + "</svg>";
}

function bars(items, horizontal) {
  if (!items.some((b) => b.value > 0)) return empty();
  const max = Math.max(...items.map((b) => b.value), 1e-9);
  let s = `<svg viewBox="0 0 ${W} ${H}">`;
  if (horizontal) {
    const lw = 120, vw = 130, bw = W - lw - vw, row = H / items.length;
    items.forEach((b, i) => {
      const y = i * row + row * 0.15, h = row * 0.7, w = Math.max(1, (b.value / max) * bw);
      s += `<rect x="${lw}" y="${y}" width="${w}" height="${h}" fill="${PALETTE[0]}" data-tip="${esc(b.label + ": " + b.note)}"/>`;
      s += `<text x="${lw - 6}" y="${y + h / 2 + 4}" text-anchor="end">${esc(b.label)}</text>`;
      s += `<text x="${lw + w + 6}" y="${y + h / 2 + 4}">${esc(b.note)}</text>`;
    });
  } else {
    const m = { l: 40, b: 24, t: 18 }, pw = W - m.l - 10, ph = H - m.b - m.t, col = pw / items.length;
    items.forEach((b, i) => {
      const h = (b.value / max) * ph, x = m.l + i * col + col * 0.2;
      s += `<rect x="${x}" y="${m.t + ph - h}" width="${col * 0.6}" height="${h}" fill="${PALETTE[0]}" data-tip="${esc(b.label + ": " + b.note)}"/>`;
      s += `<text x="${x + col * 0.3}" y="${m.t + ph - h - 4}" text-anchor="middle">${esc(b.note)}</text>`;
      s += `<text x="${x + col * 0.3}" y="${H - 6}" text-anchor="middle">${esc(b.label)}</text>`;
    });
    s += `<line class="axis" x1="${m.l}" x2="${W - 10}" y1="${m.t + ph}" y2="${m.t + ph}"/>`;
  }
  return s + "</svg>";
}

// ---------- panels ----------
function renderKpis(m) {
  const k = m.kpis;
  const cards = [
    ["uv", int(k.uv)], ["pv", int(k.pv)], ["buys", int(k.buys)], ["buyers", int(k.buyers)],
    ["conversion", pct(k.pv_to_buy_conversion)], ["retention1", pct(k.avg_day1_retention)],
    ["repurchase", pct(k.repurchase_rate)], ["peak", k.peak_hour + ":00"],
  ];
  $("kpis").innerHTML = cards
    .map(([key, v]) => `<div class="card"><div class="label">${esc(t(key))}</div><div class="value" id="kpi-${key}">${esc(v)}</div></div>`)
    .join("");
}

function renderFilterNote(m) {
  const f = m.filter;
  const parts = [];
  if (f && f.behaviors.length) parts.push(`${t("behaviors")} ${f.behaviors.map((b) => t(b + "_s")).join(", ")}`);
  if (f && f.categories.length) parts.push(`${t("category")} ${f.categories.join(", ")}`);
  $("filter-note").hidden = !parts.length;
  $("filter-note").textContent = parts.length ? t("filter_note") + parts.join(" · ") : "";
}

// The anomalies (metrics.anomalies) of one series as chart alerts: {i: x position, text: its sentences}.
function alerts(m, series, position) {
  const at = new Map();
  ((m.anomalies && m.anomalies.top) || []).filter((a) => a.series === series).forEach((a) => {
    const i = position(a);
    if (i >= 0) at.set(i, (at.has(i) ? at.get(i) + "\n" : "") + a.text[state.lang]);
  });
  return [...at].map(([i, text]) => ({ i, text }));
}

function renderCharts(m) {
  mount("funnel", funnel(m.funnel));
  const ser = (b) => ({ name: t(b + "_s"), values: m.hourly.map((h) => h[b]) });
  const ev = m.hourly.map((h) => [h.pv + h.fav + h.cart + h.buy, h.hour]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  const marks = ev.slice(0, 3).filter((e) => e[0] > 0).map((e) => e[1]);
  const hourAlerts = alerts(m, "hourly", (a) => a.hour);
  mount("hourly", lines(m.hourly.map((h) => String(h.hour)), [ser("pv")], [ser("fav"), ser("cart"), ser("buy")], { marks, alerts: hourAlerts }));
  const dates = m.daily.map((d) => d.date.slice(5));
  const dayAlerts = alerts(m, "daily", (a) => m.daily.findIndex((d) => d.date === a.date));
  mount("daily", lines(dates, [{ name: t("active"), values: m.daily.map((d) => d.users) }], [{ name: t("buys_l"), values: m.daily.map((d) => d.buy) }], { alerts: dayAlerts }));
  mount("retention", bars(m.retention.map((r) => ({ label: r.date.slice(5), value: r.rate, note: pct(r.rate) })), false));
  mount("rfm", bars(m.rfm.segments.map((s) => ({ label: t(s.segment), value: s.users, note: `${int(s.users)} (${pct(s.share)})` })), true));
  mount("categories", bars(m.top_categories.map((c) => ({ label: `${t("cat")} ${c.category_id}`, value: c.buys, note: int(c.buys) })), true));
  const head = ["segment", "users", "share", "avg_r", "avg_f", "avg_m", "action"].map((h) => `<th>${esc(t(h))}</th>`).join("");
  const rows = m.rfm.segments
    .map((s) => `<tr><td>${esc(t(s.segment))}</td><td class="num">${int(s.users)}</td><td class="num">${pct(s.share)}</td><td class="num">${s.avg_recency.toFixed(1)}</td><td class="num">${s.avg_frequency.toFixed(1)}</td><td class="num">${s.avg_monetary.toFixed(1)}</td><td>${esc(state.lang === "zh" ? s.action_zh : s.action_en)}</td><td><a class="users" data-segment="${esc(s.segment)}">${esc(t("user_list"))}</a></td></tr>`)
    .join("");
  $("rfm-table").innerHTML = `<tr>${head}<th></th></tr>${rows}`;
}

// ---------- the registry's charts (plots of /api/sections: labels in the page's language, raw values) ----------
function plotFunnel(p) {
  const v = p.series[0][1];
  if (!v.some((x) => x > 0)) return empty();
  const max = Math.max(...v, 1), lw = 110, rw = 190, bw = W - lw - rw, row = H / v.length;
  let s = `<svg viewBox="0 0 ${W} ${H}">`;
  v.forEach((x, i) => {
    const w = Math.max(2, (x / max) * bw), left = lw + (bw - w) / 2, y = i * row + row * 0.12, h = row * 0.76;
    const prev = i ? v[i - 1] : x, lost = prev - x;
    const rate = (a, b) => pct(b > 0 ? a / b : 0);
    const tipText = `${p.labels[i]}: ${int(x)}` + (i ? `\n${t("prev")} ${rate(x, prev)} · ${t("from_first")} ${rate(x, v[0])}\n${t("drop_off")} ${int(lost)}` : "");
    s += `<rect x="${left}" y="${y}" width="${w}" height="${h}" fill="${PALETTE[i % 5]}" data-tip="${esc(tipText)}"/>`;
    s += `<text x="${lw - 8}" y="${y + h / 2 + 4}" text-anchor="end">${esc(p.labels[i])}</text>`;
    s += `<text x="${lw + bw + 8}" y="${y + h / 2 - 3}">${int(x)}</text>`;
    s += `<text x="${lw + bw + 8}" y="${y + h / 2 + 12}" style="fill:#646464">${esc(i ? `${t("prev")} ${rate(x, prev)} · −${int(lost)}` : "100%")}</text>`;
  });
  return s + "</svg>";
}

function plotStacked(p) {
  const n = p.labels.length, ser = p.series;
  if (!ser.some(([, v]) => v.some((x) => x))) return empty();
  const sum = (i, pos) => ser.reduce((a, [, v]) => a + ((v[i] > 0) === pos ? v[i] : 0), 0);
  const top = nice(Math.max(...p.labels.map((_, i) => sum(i, true)), 1) * 1.05);
  const bottom = Math.min(...p.labels.map((_, i) => sum(i, false)), 0) * 1.05;
  const m = { l: 56, r: 12, t: 28, b: 24 }, pw = W - m.l - m.r, ph = H - m.t - m.b, col = pw / Math.max(n, 1);
  const Y = (v) => m.t + ((top - v) / (top - bottom)) * ph;
  let s = `<svg viewBox="0 0 ${W} ${H}"><g class="grid">`;
  for (let k = 0; k <= 4; k++) {
    const v = top - ((top - bottom) * k) / 4;
    s += `<line x1="${m.l}" x2="${m.l + pw}" y1="${Y(v)}" y2="${Y(v)}"/><text x="${m.l - 6}" y="${Y(v) + 4}" text-anchor="end">${compact(v)}</text>`;
  }
  s += "</g>";
  p.labels.forEach((lab, i) => {
    let up = 0, down = 0;
    const x = m.l + i * col + col * 0.15;
    const text = lab + "\n" + ser.map(([name, v]) => `${name}: ${int(Math.abs(v[i]))}`).join("\n");
    ser.forEach(([, v], si) => {
      const val = v[i] || 0, base = val >= 0 ? up : down, y1 = Y(base), y2 = Y(base + val);
      s += `<rect x="${x}" y="${Math.min(y1, y2)}" width="${col * 0.7}" height="${Math.abs(y2 - y1)}" fill="${PALETTE[si % 5]}" data-tip="${esc(text)}"/>`;
      if (val >= 0) up += val; else down += val;
    });
    if (n <= 16 || i % Math.ceil(n / 16) === 0) s += `<text x="${x + col * 0.35}" y="${H - 6}" text-anchor="middle">${esc(lab)}</text>`;
  });
  s += `<line class="axis" x1="${m.l}" x2="${m.l + pw}" y1="${Y(0)}" y2="${Y(0)}"/>`;
  ser.forEach(([name], si) => (s += `<rect x="${m.l + si * 120}" y="6" width="10" height="10" fill="${PALETTE[si % 5]}"/><text x="${m.l + si * 120 + 14}" y="15">${esc(name)}</text>`));
  return s + "</svg>";
}

function plotHeatmap(p) {
  const rows = p.series, cols = p.columns;
  if (!rows.length) return empty();
  const lw = 56, th = 22, cw = (W - lw) / Math.max(cols.length, 1), rh = Math.min(32, (H - th) / rows.length);
  const max = Math.max(...rows.flatMap(([, v]) => v.filter((x) => x !== null)), 1e-9);
  let s = `<svg viewBox="0 0 ${W} ${th + rh * rows.length + 4}">`;
  cols.forEach((c, j) => (s += `<text x="${lw + cw * (j + 0.5)}" y="15" text-anchor="middle">${esc(c)}</text>`));
  rows.forEach(([lab, v], i) => {
    const y = th + i * rh;
    s += `<text x="${lw - 6}" y="${y + rh / 2 + 4}" text-anchor="end">${esc(lab)}</text>`;
    v.forEach((x, j) => {
      if (x === null) return;
      const a = Math.min(1, x / max);
      s += `<rect x="${lw + cw * j + 1}" y="${y + 1}" width="${cw - 2}" height="${rh - 2}" fill="rgba(31,59,115,${(0.08 + 0.92 * a).toFixed(3)})" data-tip="${esc(`${lab} ${cols[j]}: ${pct(x)}`)}"/>`;
      s += `<text x="${lw + cw * (j + 0.5)}" y="${y + rh / 2 + 4}" text-anchor="middle" style="fill:${a > 0.55 ? "#fff" : "#232323"}">${(x * 100).toFixed(1)}%</text>`;
    });
  });
  return s + "</svg>";
}

function plot(p) {
  if (p.kind === "funnel") return plotFunnel(p);
  if (p.kind === "stacked") return plotStacked(p);
  if (p.kind === "heatmap") return plotHeatmap(p);
  return bars(p.labels.map((label, i) => ({ label, value: p.series[0][1][i], note: p.notes[i] })), p.horizontal);
}

function htmlTable(columns, rows) {
  const head = columns.map((c) => `<th>${esc(c)}</th>`).join("");
  const body = rows.map((r) => `<tr>${r.map((c, i) => `<td${i ? ' class="num"' : ""}>${esc(c)}</td>`).join("")}</tr>`).join("");
  return `<table><tr>${head}</tr>${body}</table>`;
}

// The analyses of the metrics registry (/api/sections): one panel each with its charts, tables,
// headline numbers and conclusion.
function renderSections(list) {
  $("more").innerHTML = list
    .map((s) => {
      const charts = s.plots.map((p) => `<h3>${esc(p.title)}</h3><div class="chart" id="plot-${esc(p.name)}">${plot(p)}</div>`).join("");
      const tables = s.tables.map(([title, cols, rows]) => `<h3>${esc(title)}</h3>${htmlTable(cols, rows)}`).join("");
      const notes = s.headline.map(([l, v]) => `${esc(l)}: ${esc(v)}`).join(" · ");
      const conclusion = s.conclusion ? `<p class="conclusion">${esc(s.conclusion)}</p>` : "";
      const csv = `<a class="csv" data-section="${esc(s.key)}">${esc(t("csv"))}</a>`;
      return `<div class="panel" id="section-${esc(s.key)}"><h2>${esc(s.title)}</h2>${csv}${conclusion}${charts}${htmlTable(s.columns, s.rows)}${tables}<div class="note">${notes}</div></div>`;
    })
    .join("");
  hoverable($("more"));
  downloadLinks();
}

// The download links follow the filters, the journey options and the language: the workbook of
// the page, each panel's table as CSV, and (analysts and admins: the server checks the role too)
// each RFM segment's user list.
function downloadLinks() {
  $("xlsx").href = "/api/export/metrics?" + query({ lang: state.lang, format: "xlsx" });
  document.querySelectorAll("a.csv").forEach((a) => {
    a.href = "/api/export/metrics?" + query({ lang: state.lang, format: "csv", section: a.dataset.section });
    a.title = t("csv_tip");
  });
  const base = new URLSearchParams(query());
  const keep = new URLSearchParams();
  for (const k of ["from", "to", "behavior", "category"]) if (base.get(k)) keep.set(k, base.get(k));
  document.querySelectorAll("a.users").forEach((a) => {
    keep.set("segment", a.dataset.segment);
    a.href = "/api/export/users?" + keep.toString();
    a.title = t("user_list_tip");
    a.hidden = state.role === "viewer";
  });
}

function renderMeta(meta) {
  const r = meta.rejects;
  const rows = [
    ["db", meta.db], ["files", meta.files.join(", ")], ["window", `${meta.window.start} – ${meta.window.end}`], ["tz", meta.timezone],
    ["rows", int(meta.rows)], ["ingests", int(meta.ingests)], ["last_ingest", meta.last_ingest || "-"], ["rows_read", int(meta.rows_read)],
    ["malformed", int(r.malformed)], ["bad_behavior", int(r.bad_behavior)], ["out_of_window", int(r.out_of_window)],
    ["duplicate", int(r.duplicate)], ["rejects_file", meta.rejects_file],
  ];
  $("data").innerHTML = rows.map(([k, v]) => `<tr><th>${esc(t(k))}</th><td>${esc(v)}</td></tr>`).join("");
}

function renderLabels() {
  document.documentElement.lang = state.lang;
  document.querySelectorAll("[data-t]").forEach((n) => (n.textContent = t(n.getAttribute("data-t"))));
  document.querySelectorAll("[data-tp]").forEach((n) => (n.placeholder = t(n.getAttribute("data-tp"))));
  $("title").textContent = t("title");
  $("lang").textContent = t("lang");
  $("pdf").href = "/api/report.pdf?" + query({ lang: state.lang });
  $("category").placeholder = t("category_ph");
  downloadLinks();
}

// The checkboxes and the category box into the state: all four behaviours means no filter.
function readFilters() {
  const kept = BEHAVIORS.filter((b) => $("b-" + b).checked);
  state.behaviors = kept.length === BEHAVIORS.length ? [] : kept;
  state.category = $("category").value.replace(/\s+/g, "");
}
function writeFilters() {
  BEHAVIORS.forEach((b) => ($("b-" + b).checked = !state.behaviors.length || state.behaviors.includes(b)));
  $("category").value = state.category;
  for (const k of Object.keys(JOURNEY)) $(k).value = state.journey[k] || JOURNEY[k];
}

function syncUrl() {
  history.replaceState(null, "", "?" + query({ lang: state.lang }));
}

async function refresh() {
  syncUrl();
  renderLabels();
  // Answers can arrive out of order when filters change quickly: only the latest request renders.
  const seq = ++state.seq;
  try {
    const m = await getJSON("/api/metrics?" + query());
    if (seq !== state.seq) return;
    state.metrics = m;
    showError("");
    renderFilterNote(state.metrics);
    renderKpis(state.metrics);
    renderCharts(state.metrics);
    const sections = await getJSON("/api/sections?" + query({ lang: state.lang }));
    if (seq !== state.seq) return;
    renderSections(sections);
    // For tests and the load-time measurement: renders so far, and ms from navigation to the first.
    if (!document.body.dataset.ready) document.body.dataset.firstRenderMs = Math.round(performance.now()).toString();
    document.body.dataset.ready = (Number(document.body.dataset.ready || 0) + 1).toString();
  } catch (e) {
    if (seq === state.seq) showError(e.message);
  }
}

// The scheduled reports (`serve --schedule`), for analysts and admins.
function renderReports() {
  if (state.role === "viewer") return;
  getJSON("/api/reports")
    .then((runs) => {
      $("reports-panel").hidden = !runs.length;
      $("reports").innerHTML = runs
        .map((r) => {
          const files = r.files.map((f) => `<a href="${esc(f.url)}">${esc(f.name)}</a>`).join(" · ");
          const span = r.first_day === r.last_day ? r.first_day : `${r.first_day} – ${r.last_day}`;
          return `<li>${esc(span)} (${esc(r.due)}): ${files || esc(r.error || "")}</li>`;
        })
        .join("");
    })
    .catch(() => {});
}

// The alerts (`ecomm alert`): the latest firings with their delivery, and the rules, for analysts
// and admins; admins add and remove rules (the server checks the role on every request).
function renderAlerts() {
  if (state.role === "viewer") return;
  getJSON("/api/alerts")
    .then((a) => {
      $("alerts-panel").hidden = false;
      $("alert-form").hidden = !a.manage;
      $("alert-firings").innerHTML = a.firings.length
        ? a.firings
            .map((f) => {
              const text = f.text ? f.text[state.lang] : f.rule;
              const err = f.error ? ` (${esc(f.error)})` : "";
              return `<li class="firing" data-status="${esc(f.status)}">${esc(f.fired_at.slice(0, 19).replace("T", " "))} UTC · ${esc(text)} → ${esc(f.to)}: ${esc(t("status_" + f.status))}${err}</li>`;
            })
            .join("")
        : `<li class="note">${esc(t("alert_none"))}</li>`;
      $("alert-rules").innerHTML = a.rules
        .map((r) => {
          const rm = a.manage ? ` <button class="alert-remove" data-name="${esc(r.name)}">${esc(t("alert_remove"))}</button>` : "";
          const v = r.value === null ? "—" : String(r.value);
          return `<li data-state="${esc(r.state)}">${esc(r.name)}: ${esc(r.metric)} ${esc(r.condition)} (${esc(r.over)}) → ${esc(r.to)} · ${esc(t("state_" + r.state))} · ${esc(v)}${rm}</li>`;
        })
        .join("");
      document.querySelectorAll(".alert-remove").forEach((b) =>
        b.addEventListener("click", async () => {
          await fetch(`/api/alerts/rules/${encodeURIComponent(b.dataset.name)}`, { method: "DELETE" });
          renderAlerts();
        })
      );
    })
    .catch(() => {});
}
async function addAlert(ev) {
  ev.preventDefault();
  const body = { name: $("alert-name").value, metric: $("alert-metric").value, when: $("alert-when").value, over: $("alert-over").value, to: $("alert-to").value };
  const r = await fetch("/api/alerts/rules", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const answer = await r.json().catch(() => ({}));
  $("alert-error").textContent = r.ok ? "" : answer.error || r.statusText;
  if (r.ok) $("alert-name").value = "";
  renderAlerts();
}

// ---------- live updates (/api/events: one "update" per commit to the DB) ----------
function liveNote(u) {
  const at = new Date(u.at_ms).toLocaleTimeString(state.lang === "zh" ? "zh-CN" : "en-GB", { hour12: false });
  $("live").hidden = false;
  $("live").textContent = `${t("live_updated")} ${at} · ${t("new_rows").replace("{n}", int(u.new_rows))}`;
}
// Redraws with the page's own filters, where the reader was on the page.
async function applyLive(u) {
  const y = window.scrollY;
  await refresh();
  window.scrollTo(0, y);
  liveNote(u);
  getJSON("/api/meta").then((m) => { state.meta = m; renderMeta(m); }).catch(() => {});
}
function live() {
  if (!window.EventSource) return;
  const es = new EventSource("/api/events");
  es.addEventListener("update", (e) => {
    const u = JSON.parse(e.data);
    state.pending = u;
    if (!$("live-pause").checked) { state.pending = null; applyLive(u); }
  });
  $("live-pause").addEventListener("change", () => {
    if (!$("live-pause").checked && state.pending) { const u = state.pending; state.pending = null; applyLive(u); }
  });
}

function renderInsights(o) {
  const items = o.insights
    .map((i, n) => `<div class="insight"><div class="head">${n + 1}. [${esc(i.area)}] P${i.priority}</div><div>${esc(t("finding"))}${esc(i.finding)}</div><div>${esc(t("act"))}${esc(i.action)}</div><div>${esc(t("impact"))}${esc(i.expected_impact)}</div></div>`)
    .join("");
  $("insights").innerHTML = `<div class="note">${esc(o.source === "llm" ? t("source_llm") : t("source_rules"))}</div>${items}<div class="note">${esc(o.note || "")}</div>`;
}
// Without server-sent events (or when the stream cannot open, e.g. a bad filter): one request,
// whose error says what is wrong.
async function insightsOnce() {
  try {
    renderInsights(await getJSON("/api/insights?" + query({ lang: state.lang })));
  } catch (e) {
    $("insights").innerHTML = `<div class="error">${esc(e.message)}</div>`;
  }
}
// Streams the model's tokens into the panel as it writes them; Cancel closes the stream, which
// stops the model on the server.
function runInsights() {
  const box = $("insights");
  if (state.insights) state.insights.close();
  box.innerHTML = `<div class="stream-head"><span class="spinner"></span> <span id="insights-progress">${esc(t("running"))}</span> <button id="cancel-insights">${esc(t("cancel"))}</button></div><pre id="insights-stream"></pre>`;
  if (!window.EventSource) return insightsOnce();
  const es = new EventSource("/api/insights/stream?" + query({ lang: state.lang }));
  state.insights = es;
  let round = 0;
  es.addEventListener("step", (e) => {
    const s = JSON.parse(e.data);
    const out = $("insights-stream");
    if (s.round !== round) { round = s.round; out.textContent += "\n\n"; }
    out.textContent += s.text;
    out.scrollTop = out.scrollHeight;
    $("insights-progress").textContent = s.tokens === 0
      ? t("reading_prompt").replace("{n}", int(s.prompt_tokens))
      : t("stream_progress").replace("{round}", s.round + 1).replace("{tokens}", s.tokens).replace("{max}", s.max_tokens).replace("{rate}", s.rate.toFixed(1));
  });
  es.addEventListener("done", (e) => { es.close(); state.insights = null; renderInsights(JSON.parse(e.data)); });
  es.addEventListener("error", (e) => {
    es.close();
    state.insights = null;
    if (e.data) box.innerHTML = `<div class="error">${esc(JSON.parse(e.data).error)}</div>`;
    else insightsOnce();
  });
  $("cancel-insights").addEventListener("click", () => {
    es.close();
    state.insights = null;
    box.innerHTML = `<div class="note" id="insights-cancelled">${esc(t("cancelled"))}</div>`;
  });
}

async function init() {
  const p = new URLSearchParams(location.search);
  state.lang = p.get("lang") === "en" ? "en" : "zh";
  state.from = p.get("from") || "";
  state.to = p.get("to") || "";
  state.behaviors = (p.get("behavior") || "").split(",").filter((b) => BEHAVIORS.includes(b));
  if (state.behaviors.length === BEHAVIORS.length) state.behaviors = [];
  state.category = p.get("category") || "";
  for (const k of Object.keys(JOURNEY)) state.journey[k] = p.get(k) || JOURNEY[k];
  writeFilters();
  for (const k of Object.keys(JOURNEY)) $(k).addEventListener("change", () => { state.journey[k] = $(k).value; refresh(); });
  $("from").addEventListener("change", () => { state.from = $("from").value; refresh(); });
  $("to").addEventListener("change", () => { state.to = $("to").value; refresh(); });
  BEHAVIORS.forEach((b) => $("b-" + b).addEventListener("change", () => { readFilters(); refresh(); }));
  $("category").addEventListener("change", () => { readFilters(); refresh(); });
  getJSON("/api/categories")
    .then((cats) => {
      $("category-list").innerHTML = cats.map((c) => `<option value="${c.category_id}">${int(c.events)}</option>`).join("");
    })
    .catch(() => {});
  $("reset").addEventListener("click", () => {
    state.from = state.to = "";
    state.behaviors = [];
    state.category = "";
    state.journey = { ...JOURNEY };
    writeFilters();
    $("from").value = state.meta ? state.meta.window.start : "";
    $("to").value = state.meta ? state.meta.window.end : "";
    refresh();
  });
  $("lang").addEventListener("click", () => {
    state.lang = state.lang === "zh" ? "en" : "zh";
    if (state.meta) renderMeta(state.meta);
    refresh();
  });
  $("run-insights").addEventListener("click", runInsights);
  $("alert-form").addEventListener("submit", addAlert);
  live();
  // Who is looking decides which download links show (the server enforces the roles).
  getJSON("/api/me")
    .then((me) => {
      state.role = me.role;
      downloadLinks();
      renderReports();
      renderAlerts();
      // Firings are stored a moment after the data changes: the list looks again every 5 s.
      if (me.role !== "viewer") setInterval(renderAlerts, 5000);
    })
    .catch(() => {});
  // The metrics are requested right away, beside the data panel's meta.
  const metaAnswer = getJSON("/api/meta");
  refresh();
  try {
    state.meta = await metaAnswer;
    for (const id of ["from", "to"]) {
      $(id).min = state.meta.window.start;
      $(id).max = state.meta.window.end;
    }
    renderMeta(state.meta);
  } catch (e) {
    showError(e.message);
  }
  $("from").value = state.from || (state.meta ? state.meta.window.start : "");
  $("to").value = state.to || (state.meta ? state.meta.window.end : "");
}

init();
