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
export function timeChart({ label, x, series, leftLabel, rightLabel, rightFormat = fmt.int, height = 280 }) {
  const wrapper = el("figure", { class: "chart", role: "img", "aria-label": label });
  const host = el("div", { class: "chart-host" });
  wrapper.append(host);
  const hasRight = series.some((s) => s.axis === "right");
  const options = {
    width: 800,
    height,
    tzDate: utc,
    cursor: { drag: { x: false, y: false }, points: { size: 7 } },
    legend: { live: true },
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, niceMax(max)] }, ...(hasRight ? { r: { range: (u, min, max) => [0, niceMax(max)] } } : {}) },
    axes: [
      { stroke: "#3b4350", grid: { stroke: "#e3e7ed" }, ticks: { stroke: "#c7ced8" } },
      { label: leftLabel, stroke: "#3b4350", grid: { stroke: "#e3e7ed" }, ticks: { stroke: "#c7ced8" }, values: (u, v) => v.map(fmt.compact), size: 60 },
      ...(hasRight ? [{ scale: "r", side: 1, label: rightLabel, stroke: "#3b4350", grid: { show: false }, values: (u, v) => v.map(rightFormat), size: 60 }] : []),
    ],
    series: [
      { label: "Period", value: (u, v) => (v == null ? "–" : new Date(v * 1e3).toISOString().slice(0, 10)) },
      ...series.map((s) => ({
        label: s.label,
        scale: s.axis === "right" ? "r" : "y",
        stroke: s.color,
        width: s.kind === "bars" ? 1 : 2,
        dash: s.dash,
        fill: s.kind === "bars" ? s.color : undefined,
        paths: s.kind === "bars" ? uPlot.paths.bars({ size: [0.6, 48], align: 0 }) : undefined,
        points: { show: s.kind !== "bars" && x.length <= 60, size: 5, fill: s.color },
        value: (u, v) => (v == null ? "–" : (s.format || fmt.int)(v)),
        spanGaps: false,
      })),
    ],
  };
  const data = [x.map(seconds), ...series.map((s) => s.values)];
  const chart = new uPlot(options, data, host);
  host.chart = chart;
  resize.observe(host);
  live.add(chart);
  return wrapper;
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
