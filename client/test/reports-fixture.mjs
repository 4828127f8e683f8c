// Answers of `/api/reports/*` in the shapes of the HTTP reference (docs/api.md) and of the
// report routes (shared/reporting/reader.py and queries.py: `other` beside feature rows, month
// `stickiness`, retention `weeks_elapsed`, `/onboarding`, `/launch`) for the page's browser tests: four tenants (one named with markup, one without a directory name), three user types,
// 16 weeks (2026-07-06 → 2026-10-25), six features and a launch of `feature.used` in the
// `insights` app on Monday 2026-08-31. Deterministic: the same query gives the same numbers, so
// a test computes what the page must show by calling these functions itself.

export const K = 5;
export const RANGE = { from: "2026-07-06", to: "2026-10-25" };
export const LAUNCH = "2026-08-31";
export const HOSTILE = "<img src=x onerror=alert(1)>";

export const TENANTS = [
  { tenant: "k3f1a2b3c4d5e6f70", name: "Nordlys Energi AS", first_seen: "2026-07-06", weight: 0.45 },
  { tenant: "k9a8b7c6d5e4f3a21", name: "Fjord Drilling", first_seen: "2026-07-06", weight: 0.3 },
  { tenant: "kbadc0ffee0ddf00d", name: HOSTILE, first_seen: "2026-09-16", weight: 0.15 },
  { tenant: "k0123456789abcdef", name: null, first_seen: "2026-08-03", weight: 0.1 },
];
const USER_TYPE_WEIGHT = { basic_user: 0.7, advanced_user: 0.2, it_admin: 0.1 };

// `onboard`: weeks after a tenant's first event before its people start using the feature
export const FEATURES = [
  { app: "workspace", feature: "app.launch", base: 0.9, onboard: 0 },
  { app: "workspace", feature: "/home", base: 0.75, onboard: 0 },
  { app: "service-desk", feature: "case.submitted", base: 0.22, onboard: 2 },
  { app: "service-desk", feature: "/cases/{id}", base: 0.35, onboard: 1 },
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
  userType = userType === "(all)" ? "" : userType;
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

/** Month stickiness as the server computes it: the month's daily active users / its days / MAU. */
function stickiness(month, tenant, userType, mau) {
  const first = `${month}-01`;
  const last = addDays(addDays(first, 32).slice(0, 7) + "-01", -1);
  const total = periods("day", first, last).reduce((s, p) => s + activeCell("day", p, tenant, userType).active_users, 0);
  return mau ? Math.round((total / periods("day", first, last).length / mau) * 10000) / 10000 : null;
}

const userTypesOf = (userType) => (userType ? [userType] : ["(all)", ...Object.keys(USER_TYPE_WEIGHT)]);
const filterType = (t) => (t === "(all)" ? "" : t);

export function activeUsers({ grain, from, to, tenant = "", user_type = "" }) {
  const rows = [];
  for (const p of periods(grain, from, to)) {
    // without a user_type the server also sends every user type beside `(all)`
    for (const type of userTypesOf(user_type)) {
      const cell = activeCell(grain, p, tenant, filterType(type));
      if (!cell.active_users && !cell.events) continue;
      const row = { period: p.period, tenant: tenant || "(all)", user_type: type, ...cell };
      if (grain === "month") row.stickiness = stickiness(p.period, tenant, filterType(type), cell.active_users);
      rows.push(row);
    }
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
  const other = [];
  for (const p of periods(grain, from, to)) {
    for (const type of userTypesOf(user_type)) {
      for (const f of FEATURES) {
        if (app && f.app !== app) continue;
        const { wau, users } = featureUsers(f, grain, p, tenant, filterType(type));
        if (!users) continue;
        const events = Math.round(users * 6.2 * noise("fe", f.feature, p.period, tenant, filterType(type)));
        rows.push({ period: p.period, tenant: tenant || "(all)", user_type: type, app: f.app, feature: f.feature, users, events, share: Math.round((users / wau) * 10000) / 10000 });
      }
      other.push({ period: p.period, tenant: tenant || "(all)", user_type: type, events: 17 });
    }
  }
  return { grain, from, to, k: K, rows, other };
}

export const LATEST_CLOSED_WEEK = "2026-W43"; // the fixture's "last week": later weeks are not known

export function retention({ from, to, tenant = "", user_type = "" }) {
  const rows = [];
  const latest = weekMonday(LATEST_CLOSED_WEEK);
  for (const p of periods("week", from, to)) {
    const scope = scopeWeight(tenant, user_type, addDays(p.start, 6));
    const users = kRule(Math.round(70 * scope * noise("cu", p.period, tenant, user_type)));
    if (!users) continue;
    const active = Array.from({ length: 12 }, (_, i) => kRule(Math.round(users * 0.62 * 0.92 ** i * noise("ca", p.period, i, tenant, user_type))));
    if (p.period === "2026-W31") active[4] = kRule(3); // a cell of fewer than k people: sent as 0
    const elapsed = Math.max(0, Math.min(12, Math.round((parse(latest) - parse(p.start)) / DAY / 7)));
    for (let i = elapsed; i < 12; i++) active[i] = 0; // not known yet: the server sends 0
    rows.push({ cohort: p.period, tenant: tenant || "(all)", user_type: user_type || "(all)", users, active, weeks_elapsed: elapsed });
  }
  return { from, to, k: K, rows };
}

function weekMonday(label) {
  const [year, week] = label.split("-W").map(Number);
  return addDays(mondayOf(`${year}-01-04`), (week - 1) * 7);
}

/** `/onboarding?tenant=&weeks=` as shared/reporting/reader.py answers it. */
export function onboarding({ tenant, weeks = "12" }) {
  const entry = TENANTS.find((t) => t.tenant === tenant);
  if (!entry) return null;
  const first = entry.first_seen;
  const last = addDays(first, 7 * Number(weeks) - 1);
  const active = new Map(activeUsers({ grain: "week", from: first, to: last, tenant, user_type: "(all)" }).rows.map((r) => [r.period, r]));
  const used = new Map();
  for (const r of features({ grain: "week", from: first, to: last, tenant, user_type: "(all)" }).rows) {
    if (!used.has(r.period)) used.set(r.period, new Set());
    used.get(r.period).add(`${r.app}: ${r.feature}`);
  }
  const seen = new Set();
  const rows = [];
  for (const p of periods("week", first, last)) {
    const cell = active.get(p.period);
    const adopted = used.get(p.period) || new Set();
    rows.push({
      week: p.period,
      active_users: cell ? cell.active_users : 0,
      sessions: cell ? cell.sessions : 0,
      events: cell ? cell.events : 0,
      features_adopted: adopted.size,
      new_features: [...adopted].filter((f) => !seen.has(f)).sort(),
    });
    for (const f of adopted) seen.add(f);
  }
  return { tenant, name: entry.name, first_seen: first, k: K, rows };
}

/** `/launch?feature=&app=&date=&weeks=&tenant=&user_type=` as shared/reporting/reader.py answers it. */
export function launch({ feature, app = "", date, weeks = "4", tenant = "", user_type = "(all)" }) {
  const n = Number(weeks);
  const start = mondayOf(date);
  const first = addDays(start, -7 * n);
  const last = addDays(start, 7 * n - 1);
  const type = user_type === "(all)" ? "" : user_type;
  const active = new Map(activeUsers({ grain: "week", from: first, to: last, tenant, user_type: user_type }).rows.map((r) => [r.period, r.active_users]));
  const usage = new Map();
  for (const r of features({ grain: "week", from: first, to: last, tenant, user_type: user_type, app }).rows) {
    if (r.feature === feature && r.user_type === (type || "(all)")) usage.set(r.period, [r.users, r.events]);
  }
  const rows = [];
  for (let offset = -n; offset < n; offset++) {
    const week = isoWeek(addDays(start, 7 * offset));
    const [users, events] = usage.get(week) || [0, 0];
    const base = active.get(week);
    rows.push({ week, offset, phase: offset < 0 ? "before" : "after", users, events, share: base ? Math.round((users / base) * 10000) / 10000 : null });
  }
  const mean = (list) => (list.length ? list.reduce((s, x) => s + x, 0) / list.length : null);
  const side = (phase) => rows.filter((r) => r.phase === phase);
  return {
    feature, app: app || null, date, tenant: tenant || "(all)", user_type, k: K, rows,
    summary: {
      users_before: mean(side("before").map((r) => r.users)),
      users_after: mean(side("after").map((r) => r.users)),
      share_before: mean(side("before").filter((r) => r.share !== null).map((r) => r.share)),
      share_after: mean(side("after").filter((r) => r.share !== null).map((r) => r.share)),
    },
  };
}

export const tenants = () => ({ tenants: TENANTS.map(({ tenant, name, first_seen }) => ({ tenant, name, first_seen })) });

// ---- surveys (`GET /api/reports/surveys`, functions/surveys.py) ---------------------------------
// Five surveys as the server folds them (every count 0 or >= K; sums add up to `answers`): a
// quarterly NPS series (Q1 under k, Q2 archived, Q3 live), a rating, and a choice survey whose
// title is hostile markup. Tenant cells use the keys of TENANTS (names come from `/tenants`) and
// one key `/tenants` does not list.
export const UNLISTED_TENANT = "t5e0f1e2d3c4b5a69";
const sid = (n) => `5a${"0".repeat(29)}${n}`;
const question = (type, text, options = null) => ({ type, text, options });
const NPS_TEXT = "How likely are you to recommend Cetegra Workspace to a colleague?";
const survey = (fields) => ({
  status: "published", series: null, suppressed: false, nps: null, nps_groups: {}, mean: null, by_user_type: [], by_tenant: [], distribution: {}, ...fields,
});
export const SURVEYS = [
  survey({
    id: sid(1), title: "Quarterly NPS · Q3 2026", series: "quarterly-nps", question: question("nps", NPS_TEXT),
    starts_at: "2026-10-01T00:00:00Z", ends_at: "2026-10-31T00:00:00Z", as_of: "2026-10-14T06:00:00Z", answers: 142,
    distribution: { 5: 7, 6: 9, 7: 17, 8: 24, 9: 29, 10: 38, "(other)": 18 },
    nps: 23.2, nps_groups: { promoters: 67, passives: 41, detractors: 34 },
    by_user_type: [
      { key: "advanced_user", answers: 31, nps: 35.5, mean: null },
      { key: "basic_user", answers: 96, nps: 19.8, mean: null },
      { key: "it_admin", answers: 15, nps: 26.7, mean: null },
    ],
    by_tenant: [
      { key: "k3f1a2b3c4d5e6f70", answers: 55, nps: 27.3, mean: null },
      { key: "k9a8b7c6d5e4f3a21", answers: 44, nps: 18.2, mean: null },
      { key: "kbadc0ffee0ddf00d", answers: 22, nps: 22.7, mean: null },
      { key: UNLISTED_TENANT, answers: 15, nps: 20.0, mean: null },
      { key: "(other)", answers: 6, nps: 33.3, mean: null },
    ],
  }),
  survey({
    id: sid(4), title: "Rate the new search", question: question("rating", "How useful is the new search?"),
    starts_at: "2026-09-20T00:00:00Z", ends_at: "2026-10-20T00:00:00Z", answers: 54,
    // ratings 1 and 2 are folded into (other): the server withholds the mean (it would give the
    // folded sum away) and every cell's mean with it
    distribution: { 3: 9, 4: 18, 5: 21, "(other)": 6 }, mean: null,
    by_user_type: [{ key: "advanced_user", answers: 14, nps: null, mean: null }, { key: "basic_user", answers: 40, nps: null, mean: null }],
    by_tenant: [{ key: "k3f1a2b3c4d5e6f70", answers: 30, nps: null, mean: null }, { key: "(other)", answers: 24, nps: null, mean: null }],
  }),
  survey({
    id: sid(3), title: HOSTILE, question: question("choice", "Which new feature helps you most?", ["Saved searches", "Case templates", "Dark mode"]),
    starts_at: "2026-09-15T00:00:00Z", ends_at: "2026-09-29T00:00:00Z", answers: 77,
    distribution: { "Saved searches": 41, "Case templates": 27, "(other)": 9 },
    by_user_type: [{ key: "basic_user", answers: 60, nps: null, mean: null }, { key: "(other)", answers: 17, nps: null, mean: null }],
    by_tenant: [{ key: "(other)", answers: 77, nps: null, mean: null }],
  }),
  survey({
    id: sid(2), title: "Quarterly NPS · Q2 2026", status: "archived", series: "quarterly-nps", question: question("nps", NPS_TEXT),
    starts_at: "2026-07-01T00:00:00Z", ends_at: "2026-07-31T00:00:00Z", answers: 118,
    distribution: { 6: 12, 7: 17, 8: 21, 9: 22, 10: 28, "(other)": 18 },
    nps: 16.9, nps_groups: { promoters: 50, passives: 38, detractors: 30 },
    by_user_type: [
      { key: "advanced_user", answers: 25, nps: 24.0, mean: null },
      { key: "basic_user", answers: 80, nps: 13.8, mean: null },
      { key: "it_admin", answers: 13, nps: 23.1, mean: null },
    ],
    by_tenant: [
      { key: "k3f1a2b3c4d5e6f70", answers: 50, nps: 20.0, mean: null },
      { key: "k9a8b7c6d5e4f3a21", answers: 40, nps: 15.0, mean: null },
      { key: "(other)", answers: 28, nps: 14.3, mean: null },
    ],
  }),
  survey({
    id: sid(0), title: "Quarterly NPS · Q1 2026", status: "archived", series: "quarterly-nps", question: question("nps", NPS_TEXT),
    starts_at: "2026-04-01T00:00:00Z", ends_at: "2026-04-30T00:00:00Z", answers: 0, suppressed: true,
  }),
  // as the server releases surveys: every bucket, hidden ones null (never 0), margins
  survey({
    id: sid(5), title: "Pilot NPS (released)", question: question("nps", NPS_TEXT),
    starts_at: "2026-03-01T00:00:00Z", ends_at: "2026-03-31T00:00:00Z", as_of: "2026-03-31T00:00:00Z", snapshot: 4, renewable_at: null,
    answers: 96, answers_moe: 78,
    distribution: { 0: null, 1: null, 2: null, 3: null, 4: null, 5: null, 6: null, 7: null, 8: 25, 9: 30, 10: 41 }, distribution_moe: 24,
    nps: 52.1, nps_moe: 21.3, nps_groups: { promoters: 71, passives: 25, detractors: null }, nps_groups_moe: { promoters: 33, passives: 33, detractors: 63 },
    by_user_type: [
      { key: "basic_user", answers: 60, moe: 52, nps: 50.0, nps_moe: 25.2, mean: null, mean_moe: null },
      { key: "it_admin", answers: null, moe: 52, nps: null, nps_moe: null, mean: null, mean_moe: null },
    ],
  }),
];
const point = (s) => ({ id: s.id, title: s.title, starts_at: s.starts_at, answers: s.answers, nps: s.nps });
export const TRENDS = [{ series: "quarterly-nps", points: [sid(0), sid(2), sid(1)].map((id) => point(SURVEYS.find((s) => s.id === id))) }];
export const surveys = () => ({ k: K, surveys: SURVEYS, trends: TRENDS });

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

// ---- coverage, launch markers, the tenant table, funnels, the page status -------------------------

export const coverage = () => ({ k: K, per_tenant: false, rows: [{ tenant: "(all)", asked: 420, granted: 300, declined: 120, hidden: false, granted_share: 0.7143 }] });
export const MARKERS = [
  { id: "m20260803aaaaaaaa", date: "2026-08-03", feature: null, app: null, text: "Search v2", created_at: "2026-08-03T09:00:00Z" },
  { id: "m20260831bbbbbbbb", date: LAUNCH, feature: "feature.used", app: "insights", text: "Insights launched", created_at: "2026-08-31T09:00:00Z" },
];
export const markers = () => ({ markers: MARKERS, latest: MARKERS.at(-1) });
export const status = () => ({ demo_seeding: false });

/** `/tenant-table?weeks=` as shared/reporting/tenant_table.py answers it (the last closed week: LATEST_CLOSED_WEEK). */
export function tenantTable({ weeks = "12" }) {
  const n = Number(weeks);
  const lastMonday = weekMonday(LATEST_CLOSED_WEEK);
  const first = addDays(lastMonday, -7 * (n - 1));
  const labels = periods("week", first, addDays(lastMonday, 6)).map((p) => p.period);
  const month = "2026-09";
  const rows = TENANTS.map((t) => {
    const weekly = new Map(activeUsers({ grain: "week", from: first, to: addDays(lastMonday, 6), tenant: t.tenant, user_type: "(all)" }).rows.map((r) => [r.period, r]));
    const monthly = activeUsers({ grain: "month", from: "2026-09-01", to: "2026-09-30", tenant: t.tenant, user_type: "(all)" }).rows[0];
    const line = labels.map((w) => weekly.get(w)?.active_users || null);
    const wau = line.at(-1);
    const previous = line.at(-2);
    const active = labels.filter((w, i) => line[i]);
    return {
      tenant: t.tenant, name: t.name, first_seen: t.first_seen, last_active_week: active.at(-1) || null, week: LATEST_CLOSED_WEEK,
      wau, wau_hidden: wau === null, wau_previous: previous, wau_change: wau !== null && previous !== null ? wau - previous : null,
      month, mau: monthly?.active_users || null, mau_hidden: !monthly?.active_users, stickiness: wau === null ? null : 0.4321,
      sparkline: line, consent_asked: null, consent_granted: null,
    };
  });
  return { week: LATEST_CLOSED_WEEK, month, k: K, rows, coverage_per_tenant: false };
}

export const FUNNELS = [
  { id: "case_submission", name: "Open a case, fill it in, submit it", steps: ["Cases list", "New case form", "Case submitted"] },
  { id: "catalogue_order", name: "Browse the catalogue, open an order, order", steps: ["Service catalogue", "Order form", "Ordered"] },
];

/** `/funnels?funnel=&mode=&from=&to=&tenant=&user_type=` as shared/reporting/funnels.py answers it. */
export function funnels({ funnel = "", mode = "", from = RANGE.from, to = RANGE.to, tenant = "", user_type = "" }) {
  const chosen = FUNNELS.find((f) => f.id === funnel) || (funnel ? null : FUNNELS[0]);
  if (!chosen) return null;
  const rows = [];
  for (const p of periods("week", from, to)) {
    if (p.period > "2026-W42") continue; // a week is built once the 7 days after it are over
    for (const m of mode ? [mode] : ["session", "7d"]) {
      const entrants = kRule(Math.round(60 * scopeWeight(tenant, user_type === "(all)" ? "" : user_type, addDays(p.start, 6)) * noise("fn", p.period, chosen.id, tenant, user_type)));
      if (!entrants) continue;
      let counts = [entrants, Math.round(entrants * 0.7), Math.round(entrants * (m === "7d" ? 0.5 : 0.4))];
      if (p.period === "2026-W30") counts = [entrants, null, null]; // a drop under k: the rest hidden
      counts.forEach((n, i) => {
        rows.push({
          week: p.period, tenant: tenant || "(all)", user_type: user_type || "(all)", mode: m, step: i + 1, label: chosen.steps[i],
          users: n, hidden: n === null, conversion: n === null ? null : Math.round((n / entrants) * 10000) / 10000,
          from_previous: i === 0 || n === null || counts[i - 1] === null ? null : Math.round((n / counts[i - 1]) * 10000) / 10000,
        });
      });
    }
  }
  return { funnel: chosen.id, funnels: FUNNELS.map((f) => ({ ...f })), from, to, k: K, rows };
}

/** {status, headers, body} for a request URL to `/api/reports/<route>?…`. */
export function answer(url, accept = "application/json") {
  const { pathname, searchParams } = new URL(url);
  const q = Object.fromEntries(searchParams);
  const route = pathname.replace(/^\/api\/reports\//, "");
  const body = { tenants, "active-users": activeUsers, features, retention, onboarding, launch, surveys, coverage, markers, status, "tenant-table": tenantTable, funnels }[route]?.(q);
  if (!body) return { status: 404, headers: { "Content-Type": "application/json" }, body: JSON.stringify({ error: { code: "not_found", message: "no such route" } }) };
  if (accept.includes("text/csv") && body.rows) return { status: 200, headers: { "Content-Type": "text/csv; charset=utf-8" }, body: toCsv(body.rows) };
  return { status: 200, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
}
