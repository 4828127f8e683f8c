// uPlot wrappers. A chart is canvas, so each one is an `img` with an aria-label that says where
// the same numbers are as a table; colours are chosen for contrast on white and by shape
// (line vs bars vs dashes), not by colour alone.
import uPlot from "uplot";
import { el, fmt } from "./dom.js";

export const COLORS = {
  users: "#1f5fa8",
  sessions: "#2e7d32",
  events: "#b34700",
  features: "#6a3d9a",
  before: "#7a8594",
  after: "#1f5fa8",
  share: "#b34700",
};

const live = new Set();
const resize = new ResizeObserver((entries) => {
  for (const entry of entries) {
    const chart = entry.target.chart;
    if (chart) chart.setSize({ width: Math.max(320, Math.floor(entry.contentRect.width)), height: chart.height });
  }
});

const utc = (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC");
export const seconds = (iso) => Date.parse(`${iso}T00:00:00Z`) / 1000;

/**
 * A time chart: `x` ISO dates; `series` [{label, values, color, axis: "left"|"right",
 * kind: "line"|"bars", dash, format}]. Returns the wrapper element (role img, labelled).
 */
export function timeChart({ label, x, series, leftLabel, rightLabel, rightFormat = fmt.int, leftFormat = fmt.compact, yRange, xPadDays = 0, height = 280, grain = "day", marker, xLabel, markers = [], gaps = [], progress = [] }) {
  const wrapper = el("figure", { class: "chart", role: "img", "aria-label": label });
  const host = el("div", { class: "chart-host" });
  wrapper.append(host);
  const hasRight = series.some((s) => s.axis === "right");
  const weekly = grain === "week"; // a week's point sits mid-week, its bar spans the week
  const options = {
    width: 800,
    height,
    tzDate: utc,
    cursor: { drag: { x: false, y: false }, points: { size: 7 } },
    legend: { live: true },
    scales: { x: { time: true, range: weekly ? (u, min, max) => [min - HALF_WEEK, max + HALF_WEEK] : xPadDays ? (u, min, max) => [min - xPadDays * 86400, max + xPadDays * 86400] : undefined }, y: { range: yRange ? () => yRange : (u, min, max) => [0, niceMax(max)] }, ...(hasRight ? { r: { range: (u, min, max) => [0, niceMax(max)] } } : {}) },
    axes: [
      { stroke: "#3b4350", space: 72, grid: { stroke: "#e3e7ed" }, ticks: { stroke: "#c7ced8" }, values: (u, splits) => splits.map((ts) => tick(grain).format(new Date(ts * 1e3))) },
      { label: leftLabel, stroke: "#3b4350", grid: { stroke: "#e3e7ed" }, ticks: { stroke: "#c7ced8" }, values: (u, v) => v.map(leftFormat), size: 60 },
      ...(hasRight ? [{ scale: "r", side: 1, label: rightLabel, stroke: "#3b4350", grid: { show: false }, values: (u, v) => v.map(rightFormat), size: 60 }] : []),
    ],
    series: [
      { label: xLabel || (grain === "month" ? "Month" : grain === "week" ? "Week of" : "Day"), value: (u, v) => (v == null ? "–" : new Date((v - (weekly ? HALF_WEEK : 0)) * 1e3).toISOString().slice(0, grain === "month" ? 7 : 10)) },
      ...series.map((s) => ({
        label: s.label,
        scale: s.axis === "right" ? "r" : "y",
        stroke: s.color,
        width: s.kind === "bars" ? 1 : 2,
        dash: s.dash,
        fill: s.kind === "bars" ? s.color : undefined,
        paths: s.kind === "bars" ? uPlot.paths.bars({ size: [0.6, 48], align: 0 }) : undefined,
        points: { show: s.kind !== "bars" && x.length <= 60, size: s.labels ? 9 : 5, fill: s.color },
        value: (u, v) => (v == null ? "–" : (s.format || fmt.int)(v)),
        spanGaps: false,
      })),
    ],
  };
  const draw = [];
  const shift = weekly ? HALF_WEEK : 0;
  // hidden periods (fewer than k people, or none) and the open period: a marked band, not a 0
  if (gaps.length) draw.push((u) => drawBands(u, gaps.map((d) => seconds(d) + shift), "hidden", "rgba(122,133,148,0.18)"));
  if (progress.length) draw.push((u) => drawBands(u, progress.map((d) => seconds(d) + shift), "in progress", "rgba(179,71,0,0.12)"));
  if (marker) draw.push((u) => drawMarker(u, seconds(marker.date), marker.label));
  const first = x[0];
  const last = x.at(-1);
  const end = grain === "month" ? `${last}`.slice(0, 7) + "-31" : grain === "week" ? addIso(last, 6) : last;
  for (const m of markers) {
    if (first && m.date >= first && m.date <= end) draw.push((u) => drawMarker(u, seconds(m.date), m.label, "#6a3d9a"));
  }
  series.forEach((s, i) => s.labels && draw.push((u) => drawValues(u, i + 1, s.format || fmt.int, s.color)));
  if (draw.length) options.hooks = { draw };
  const data = [x.map((d) => seconds(d) + (weekly ? HALF_WEEK : 0)), ...series.map((s) => s.values)];
  const chart = new uPlot(options, data, host);
  host.chart = chart;
  resize.observe(host);
  live.add(chart);
  return wrapper;
}

const HALF_WEEK = 3.5 * 86400;
const LOCALE = navigator.language || "en-GB";
const TICKS = {
  day: new Intl.DateTimeFormat(LOCALE, { day: "numeric", month: "short", timeZone: "UTC" }),
  month: new Intl.DateTimeFormat(LOCALE, { month: "short", year: "numeric", timeZone: "UTC" }),
};
const tick = (grain) => (grain === "month" ? TICKS.month : TICKS.day);

const addIso = (iso, days) => new Date(Date.parse(`${iso}T00:00:00Z`) + days * 86400000).toISOString().slice(0, 10);

/** A band around each of `points` (x values) with a small label: hidden or in-progress periods. */
function drawBands(u, points, text, fill) {
  const { ctx } = u;
  const { top, height } = u.bbox;
  const xs = u.data[0];
  const half = xs.length > 1 ? Math.abs(u.valToPos(xs[1], "x", true) - u.valToPos(xs[0], "x", true)) / 2 : 12 * devicePixelRatio;
  ctx.save();
  ctx.fillStyle = fill;
  ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
  for (const ts of points) {
    const x = u.valToPos(ts, "x", true);
    ctx.fillRect(x - half, top, 2 * half, height);
  }
  ctx.fillStyle = "#3b4350";
  ctx.textAlign = "center";
  for (const ts of points.slice(0, 40)) ctx.fillText(text, u.valToPos(ts, "x", true), top + height - 4 * devicePixelRatio);
  ctx.restore();
}

/** A dashed vertical line with a label (e.g. the launch date, a launch marker), on the canvas. */
function drawMarker(u, ts, text, color = "#1b1f24") {
  const x = Math.round(u.valToPos(ts, "x", true));
  const { ctx } = u;
  const { top, height } = u.bbox;
  ctx.save();
  ctx.strokeStyle = color;
  ctx.lineWidth = 1.5 * devicePixelRatio;
  ctx.setLineDash([5 * devicePixelRatio, 4 * devicePixelRatio]);
  ctx.beginPath();
  ctx.moveTo(x, top);
  ctx.lineTo(x, top + height);
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.fillStyle = color;
  ctx.font = `600 ${12 * devicePixelRatio}px system-ui, sans-serif`;
  ctx.fillText(text, x + 6 * devicePixelRatio, top + 14 * devicePixelRatio);
  ctx.restore();
}

/** Each point's value written above it (series `labels: true`; for charts of a few points). */
function drawValues(u, index, format, color) {
  const { ctx } = u;
  const xs = u.data[0];
  const ys = u.data[index];
  const scale = u.series[index].scale;
  ctx.save();
  ctx.fillStyle = color;
  ctx.textAlign = "center";
  ctx.font = `700 ${13 * devicePixelRatio}px system-ui, sans-serif`;
  for (let i = 0; i < xs.length; i++) {
    if (ys[i] == null) continue;
    ctx.fillText(format(ys[i]), u.valToPos(xs[i], "x", true), u.valToPos(ys[i], scale, true) - 10 * devicePixelRatio);
  }
  ctx.restore();
}

function niceMax(max) {
  if (!max || max <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) {
    if (step * magnitude >= max * 1.05) return step * magnitude;
  }
  return 10 * magnitude;
}

/** Destroy the charts inside a container before it is re-rendered. */
export function disposeCharts(container) {
  for (const host of container.querySelectorAll(".chart-host")) {
    if (host.chart) {
      resize.unobserve(host);
      live.delete(host.chart);
      host.chart.destroy();
      host.chart = null;
    }
  }
}

/** A static legend (the live uPlot legend shows values under the cursor). */
export function legendNote(text) {
  return el("p", { class: "chart-note" }, text);
}
