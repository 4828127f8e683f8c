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

const USER_TYPE_LABELS = { basic_user: "Basic users", advanced_user: "Advanced users", it_admin: "IT admins" };
export const userTypeLabel = (type) => USER_TYPE_LABELS[type] || type;

/** A tenant as people know it: its directory name, else a clearly-marked short key. */
export const tenantLabel = (t) => (t.name ? t.name : `Unnamed tenant (${String(t.tenant).slice(0, 8)})`);

// ---- tables -------------------------------------------------------------------------------------

/**
 * A real data table: `columns` = [{label, cell: row => string|Node, numeric}], caption visible.
 * Numeric columns are right-aligned and use tabular figures.
 */
export function table(caption, columns, rows, { className = "data", rowHeader = 0 } = {}) {
  const head = el("tr", {}, columns.map((c) => el("th", { scope: "col", class: c.numeric ? "num" : undefined }, c.label)));
  const body = rows.map((row) =>
    el(
      "tr",
      {},
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
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? w / (values.length - 1) : 0;
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(h - 2 - (v / max) * (h - 4)).toFixed(1)}`).join(" ");
  return svg(
    "svg",
    { class: "spark", viewBox: `0 0 ${w} ${h}`, width: w, height: h, role: "img", "aria-label": label },
    svg("polyline", { points, fill: "none" }),
  );
}
