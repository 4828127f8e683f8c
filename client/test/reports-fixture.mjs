// Contract-shaped answers of `/api/reports/*` (../shared/api-contract.md) for the page's browser
// tests: four tenants (one named with markup, one without a directory name), three user types,
// 16 weeks (2026-07-06 → 2026-10-25), six features and a launch of `feature.used` in the
// `insights` app on Monday 2026-08-31. Deterministic: the same query gives the same numbers, so
// a test computes what the page must show by calling these functions itself.

export const K = 5;
export const RANGE = { from: "2026-07-06", to: "2026-10-25" };
export const LAUNCH = "2026-08-31";
export const HOSTILE = "<img src=x onerror=alert(1)>";

export const TENANTS = [
  { tenant: "tk_nordlys", name: "Nordlys Energi AS", first_seen: "2026-07-06", weight: 0.45 },
  { tenant: "tk_fjord", name: "Fjord Drilling", first_seen: "2026-07-06", weight: 0.3 },
  { tenant: "tk_hostile", name: HOSTILE, first_seen: "2026-09-16", weight: 0.15 },
  { tenant: "tk_unnamed", name: null, first_seen: "2026-08-03", weight: 0.1 },
];
const USER_TYPE_WEIGHT = { basic_user: 0.7, advanced_user: 0.2, it_admin: 0.1 };

// `onboard`: weeks after a tenant's first event before its people start using the feature
export const FEATURES = [
  { app: "workspace", feature: "app.launch", base: 0.9, onboard: 0 },
  { app: "workspace", feature: "nav.page_view /home", base: 0.75, onboard: 0 },
  { app: "service-desk", feature: "case.submitted", base: 0.22, onboard: 2 },
  { app: "service-desk", feature: "nav.page_view /cases/{id}", base: 0.35, onboard: 1 },
  { app: "catalog", feature: "catalog.ordered", base: 0.12, onboard: 3 },
  { app: "insights", feature: "feature.used", base: 0, launched: LAUNCH },
];

// ---- deterministic noise ----------------------------------------------------------------------

function hash(text) {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return (h >>> 0) / 4294967296;
}
const noise = (...parts) => 0.85 + 0.3 * hash(parts.join("|"));
const kRule = (n) => (n < K ? 0 : n); // the contract: 0 or >= k

// ---- dates --------------------------------------------------------------------------------------

const DAY = 86400000;
const parse = (iso) => new Date(`${iso}T00:00:00Z`);
const iso = (d) => d.toISOString().slice(0, 10);
export const addDays = (day, n) => iso(new Date(parse(day).getTime() + n * DAY));
export const mondayOf = (day) => addDays(day, -((parse(day).getUTCDay() + 6) % 7));

export function isoWeek(day) {
  const date = parse(day);
  const thursday = new Date(date.getTime() + (3 - ((date.getUTCDay() + 6) % 7)) * DAY);
  const week = 1 + Math.floor((thursday - Date.UTC(thursday.getUTCFullYear(), 0, 1)) / DAY / 7);
  return `${thursday.getUTCFullYear()}-W${String(week).padStart(2, "0")}`;
}

function days(from, to) {
  const out = [];
  for (let d = from; d <= to; d = addDays(d, 1)) out.push(d);
  return out;
}

/** Periods of a grain that overlap [from, to], each with its first and last day. */
export function periods(grain, from, to) {
  const seen = new Map();
  for (const d of days(from, to)) {
    const label = grain === "day" ? d : grain === "week" ? isoWeek(d) : d.slice(0, 7);
    if (!seen.has(label)) seen.set(label, { period: label, start: grain === "week" ? mondayOf(d) : grain === "month" ? `${label}-01` : d });
  }
  return [...seen.values()];
}

// ---- scopes ---------------------------------------------------------------------------------------

function scopeWeight(tenant, userType, day) {
  const tenants = tenant ? TENANTS.filter((t) => t.tenant === tenant) : TENANTS;
  const active = tenants.filter((t) => t.first_seen <= day).reduce((s, t) => s + t.weight, 0);
  return active * (userType ? USER_TYPE_WEIGHT[userType] : 1);
}

const GRAIN_FACTOR = { day: 1, week: 2.3, month: 3.6 };

function activeCell(grain, p, tenant, userType) {
  const start = p.start;
  const weekday = grain === "day" ? (parse(start).getUTCDay() % 6 === 0 ? 0.25 : 1) : 1;
  const growth = 1 + (parse(start) - parse(RANGE.from)) / DAY / 400;
  const scope = scopeWeight(tenant, userType, grain === "day" ? start : addDays(start, 6));
  const users = kRule(Math.round(420 * GRAIN_FACTOR[grain] * scope * weekday * growth * noise("au", grain, p.period, tenant, userType)));
  const sessions = users ? Math.round(users * (grain === "day" ? 1.4 : 1.4 * GRAIN_FACTOR[grain]) * noise("s", p.period, tenant, userType)) : 0;
  const events = users ? Math.round(sessions * 7.5 * noise("e", p.period, tenant, userType)) : 0;
  return { active_users: users, sessions, events };
}

export function activeUsers({ grain, from, to, tenant = "", user_type = "" }) {
  const rows = [];
  for (const p of periods(grain, from, to)) {
    const cell = activeCell(grain, p, tenant, user_type);
    if (!cell.active_users && !cell.events) continue;
    rows.push({ period: p.period, tenant: tenant || "(all)", user_type: user_type || "(all)", ...cell });
    // a breakdown row the page must not mistake for the scope's total (ASSUMPTION 2 of api.js)
    if (!tenant && p.period.endsWith("1")) rows.push({ period: p.period, tenant: "(other)", user_type: user_type || "(all)", active_users: 0, sessions: 3, events: 9 });
  }
  return { grain, from, to, k: K, rows };
}

function featureUsers(f, grain, p, tenant, userType) {
  const wau = activeCell(grain, p, tenant, userType).active_users;
  let base = f.base;
  if (f.launched) {
    const weeksIn = Math.floor((parse(p.start) - parse(f.launched)) / DAY / 7);
    base = grain === "month" ? (p.start.slice(0, 7) >= f.launched.slice(0, 7) ? 0.25 : 0) : weeksIn < 0 ? 0 : Math.min(0.45, 0.12 + 0.06 * weeksIn);
  }
  const first = TENANTS.find((t) => t.tenant === tenant)?.first_seen;
  if (first && grain === "week" && (parse(p.start) - parse(mondayOf(first))) / DAY / 7 < (f.onboard || 0)) base = 0;
  const users = kRule(Math.min(wau, Math.round(wau * base * noise("fu", f.feature, p.period, tenant, userType))));
  return { wau, users };
}

export function features({ grain, from, to, tenant = "", user_type = "", app = "" }) {
  const rows = [];
  for (const p of periods(grain, from, to)) {
    for (const f of FEATURES) {
      if (app && f.app !== app) continue;
      const { wau, users } = featureUsers(f, grain, p, tenant, user_type);
      if (!users) continue;
      const events = Math.round(users * 6.2 * noise("fe", f.feature, p.period, tenant, user_type));
      rows.push({ period: p.period, tenant: tenant || "(all)", user_type: user_type || "(all)", app: f.app, feature: f.feature, users, events, share: Math.round((users / wau) * 10000) / 10000 });
    }
    if (!app) rows.push({ period: p.period, tenant: tenant || "(all)", user_type: user_type || "(all)", app: "(other)", feature: "(other)", users: 0, events: 17, share: 0 });
  }
  return { grain, from, to, k: K, rows };
}

export function retention({ from, to, tenant = "", user_type = "" }) {
  const rows = [];
  for (const p of periods("week", from, to)) {
    const scope = scopeWeight(tenant, user_type, addDays(p.start, 6));
    const users = kRule(Math.round(70 * scope * noise("cu", p.period, tenant, user_type)));
    if (!users) continue;
    const active = Array.from({ length: 12 }, (_, i) => kRule(Math.round(users * 0.62 * 0.92 ** i * noise("ca", p.period, i, tenant, user_type))));
    rows.push({ cohort: p.period, tenant: tenant || "(all)", user_type: user_type || "(all)", users, active });
  }
  return { from, to, k: K, rows };
}

export const tenants = () => ({ tenants: TENANTS.map(({ tenant, name, first_seen }) => ({ tenant, name, first_seen })) });

// ---- the route handler -----------------------------------------------------------------------------

const csvCell = (v) => {
  const text = Array.isArray(v) ? v.join(" ") : v === null ? "" : String(v);
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
};

export function toCsv(rows) {
  if (!rows.length) return "";
  const fields = Object.keys(rows[0]);
  return [fields.join(","), ...rows.map((r) => fields.map((f) => csvCell(r[f])).join(","))].join("\r\n") + "\r\n";
}

/** {status, headers, body} for a request URL to `/api/reports/<route>?…`. */
export function answer(url, accept = "application/json") {
  const { pathname, searchParams } = new URL(url);
  const q = Object.fromEntries(searchParams);
  const route = pathname.replace(/^\/api\/reports\//, "");
  const body = { tenants, "active-users": activeUsers, features, retention }[route]?.(q);
  if (!body) return { status: 404, headers: { "Content-Type": "application/json" }, body: JSON.stringify({ error: { code: "not_found", message: "no such route" } }) };
  if (accept.includes("text/csv") && body.rows) return { status: 200, headers: { "Content-Type": "text/csv; charset=utf-8" }, body: toCsv(body.rows) };
  return { status: 200, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
}
