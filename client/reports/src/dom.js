// DOM helpers: every piece of text goes in through textContent (the page's CSP also forbids
// HTML sinks via Trusted Types), attributes through setAttribute, never a style attribute.

const SVG = "http://www.w3.org/2000/svg";

/** `el("td", {class: "num"}, "12")`: children are nodes or strings (set as text). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  setAttributes(node, attributes);
  append(node, children);
  return node;
}

export function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  setAttributes(node, attributes);
  append(node, children);
  return node;
}

function setAttributes(node, attributes) {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "style") throw new Error("no style attributes under the page's CSP");
    node.setAttribute(name, value === true ? "" : String(value));
  }
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
  }
}

export const clear = (node) => node.replaceChildren();

// ---- numbers ----------------------------------------------------------------------------------

const LOCALE = navigator.language || "en-GB";
const integer = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 0 });
const percent = new Intl.NumberFormat(LOCALE, { style: "percent", maximumFractionDigits: 1 });
const compact = new Intl.NumberFormat(LOCALE, { notation: "compact", maximumFractionDigits: 1 });

export const fmt = {
  int: (n) => (n === null || n === undefined || Number.isNaN(n) ? "–" : integer.format(n)),
  pct: (x) => (x === null || x === undefined || !Number.isFinite(x) ? "–" : percent.format(x)),
  compact: (n) => compact.format(n),
  /** +12.5 % / −3 % for changes; "new" when there was nothing before. */
  change: (before, after) => {
    if (!before) return after ? "new" : "–";
    const ratio = (after - before) / before;
    return `${ratio >= 0 ? "+" : "−"}${percent.format(Math.abs(ratio))}`;
  },
};

export const HIDDEN = "hidden";

/**
 * A row's figure as the page shows it (honest display): "hidden" when the row is hidden
 * or the figure is null — never 0 — and "± n" beside a figure that has a margin of error.
 */
export function figure(row, field, format = fmt.int) {
  if (!row || row.hidden === true || row[field] === null || row[field] === undefined) return HIDDEN;
  const moe = row.moe && typeof row.moe[field] === "number" ? row.moe[field] : null;
  return moe === null ? format(row[field]) : `${format(row[field])} ± ${fmt.int(moe)}`;
}

/** A change between two shown figures (`+3 (+12 %)`), or "–" when either is hidden or absent. */
export function change(before, after) {
  if (before === null || before === undefined || after === null || after === undefined) return "–";
  const diff = after - before;
  const sign = diff > 0 ? "+" : diff < 0 ? "−" : "±";
  return `${sign}${integer.format(Math.abs(diff))} (${fmt.change(before, after)})`;
}

const USER_TYPE_LABELS = { basic_user: "Basic users", advanced_user: "Advanced users", it_admin: "IT admins" };
export const userTypeLabel = (type) => USER_TYPE_LABELS[type] || type;

/** A tenant as people know it: its directory name, else a clearly-marked short key. */
export const tenantLabel = (t) => (t.name ? t.name : `Unnamed tenant (${String(t.tenant).slice(0, 8)})`);

// ---- tables -------------------------------------------------------------------------------------

/**
 * A real data table: `columns` = [{label, cell: row => string|Node, numeric}], caption visible.
 * Numeric columns are right-aligned and use tabular figures.
 */
export function table(caption, columns, rows, { className = "data", rowHeader = 0, rowClass } = {}) {
  const head = el("tr", {}, columns.map((c) => el("th", { scope: "col", class: c.numeric ? "num" : undefined }, c.label)));
  const body = rows.map((row) =>
    el(
      "tr",
      { class: rowClass ? rowClass(row).replace(" ", "-") || undefined : undefined },
      columns.map((c, i) => {
        const value = c.cell(row);
        return i === rowHeader
          ? el("th", { scope: "row", class: c.numeric ? "num" : undefined }, value)
          : el("td", { class: [c.numeric ? "num" : "", c.className ? c.className(row) : ""].join(" ").trim() || undefined }, value);
      }),
    ),
  );
  return el("table", { class: className }, el("caption", {}, caption), el("thead", {}, head), el("tbody", {}, body));
}

/** A horizontal bar (SVG, attributes only) for a value in [0, 1]; hidden from assistive tech. */
export function bar(fraction, className = "bar") {
  const width = Math.max(0, Math.min(1, fraction || 0)) * 100;
  return svg(
    "svg",
    { class: className, viewBox: "0 0 100 10", preserveAspectRatio: "none", "aria-hidden": "true", focusable: "false" },
    svg("rect", { class: "bar-track", x: 0, y: 0, width: 100, height: 10 }),
    svg("rect", { class: "bar-fill", x: 0, y: 0, width: width.toFixed(2), height: 10 }),
  );
}

/** A sparkline of a series (SVG polyline); the numbers are in the same row or its label. */
export function sparkline(values, label) {
  const w = 96;
  const h = 24;
  const max = Math.max(1, ...values.filter((v) => v !== null && v !== undefined));
  const step = values.length > 1 ? w / (values.length - 1) : 0;
  // a hidden value (null) breaks the line and gets a small grey tick: a gap, never a drop to 0
  const runs = [[]];
  const gaps = [];
  values.forEach((v, i) => {
    if (v === null || v === undefined) {
      gaps.push(i);
      if (runs.at(-1).length) runs.push([]);
    } else runs.at(-1).push(`${(i * step).toFixed(1)},${(h - 2 - (v / max) * (h - 4)).toFixed(1)}`);
  });
  return svg(
    "svg",
    { class: "spark", viewBox: `0 0 ${w} ${h}`, width: w, height: h, role: "img", "aria-label": label },
    runs.filter((r) => r.length).map((r) => (r.length === 1 ? svg("circle", { cx: r[0].split(",")[0], cy: r[0].split(",")[1], r: 1.5, class: "spark-dot" }) : svg("polyline", { points: r.join(" "), fill: "none" }))),
    gaps.map((i) => svg("rect", { class: "spark-gap", x: Math.max(0, i * step - 1).toFixed(1), y: h - 3, width: 2, height: 3 })),
  );
}
