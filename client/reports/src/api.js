// The ONE place that knows the report API: paths, query parameters, row shapes, and what the
// HTTP reference (docs/api.md, `/api/reports/*`) does not pin down. Everything else in the
// page works on what these functions return.
//
// Aligned with the report routes (functions/reports.py, shared/reporting/queries.py and
// reader.py); where the page relies on more than the reference's tables it says ASSUMPTION:
//  1. `period` is `YYYY-MM-DD` (day), ISO week `YYYY-Www` (week), `YYYY-MM` (month).
//  2. Without `tenant` the answer is the `(all)` partition; without `user_type` it holds every
//     user type plus `(all)`: the page takes the rows labelled with its scope (the filter's value,
//     or `(all)`), so breakdown rows never pass for the scope's totals.
//  3. `/features` answers `rows` (no `(other)` among them) plus `other`: [{period, tenant,
//     user_type, events}] — the events of features under k people; `share` may be null.
//  4. Month rows of `/active-users` carry `stickiness` (mean DAU of the month / MAU); retention
//     rows carry `weeks_elapsed` (later entries of `active` are not known yet).
//  5. `GET /onboarding?tenant=&weeks=` → {tenant, name, first_seen, k, rows:[{week, active_users,
//     sessions, events, features_adopted, new_features:["app: feature"]}]}; `features_adopted`
//     counts the features used in that week.
//  6. `GET /launch?feature=&app=&date=&weeks=&tenant=&user_type=` → {feature, app, date, tenant,
//     user_type, k, rows:[{week, offset, phase, users, events, share}], summary:{users_before,
//     users_after, share_before, share_after}}; `user_type` there defaults to `(all)`.
//  7. Ranges are capped by the server (400 `range_too_long` naming `from`); the page asks for at
//     most MAX_RANGE_DAYS and onboarding for at most 104 weeks.
//  8. Errors are the contract's `{"error":{"code","message","field"}}`; 503 carries `Retry-After`.
//  9. A row may carry `hidden: true` (its counts are null) and `moe`: {field: 95 %
//     margin of error}; both are optional. A count that is null, or a period missing between the
//     first row and the range's end, is hidden (fewer than k people, or none): never shown as 0.
// 10. `GET /tenant-table?weeks=` → {week, month, k, rows:[{tenant, name, first_seen,
//     last_active_week, week, wau, wau_hidden, wau_previous, wau_change, month, mau, mau_hidden,
//     stickiness, sparkline:[n|null], consent_asked, consent_granted}], coverage_per_tenant}.
// 11. `GET /funnels?funnel=&from=&to=&tenant=&user_type=&mode=` → {funnel, funnels:[{id, name,
//     steps:[label]}], k, rows:[{week, tenant, user_type, mode, step (1-based), label, users|null,
//     hidden, conversion|null, from_previous|null}]}; `GET /coverage` → {k, per_tenant, rows:
//     [{tenant, asked, granted, declined, hidden, granted_share}]}; `GET /markers` → {markers:
//     [{id, date, feature, app, text}], latest}.

export const API_BASE = "/api/reports";
export const MAX_RANGE_DAYS = 366; // ASSUMPTION 7 (the server allows 400 days at the day grain)
export const MAX_ONBOARDING_WEEKS = 104;
export const ALL = "(all)";
export const USER_TYPES = ["basic_user", "advanced_user", "it_admin"];

/** An API answer that is not 2xx, with what the page needs to explain it. */
export class ApiError extends Error {
  constructor(status, code, message, field, retryAfter) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.field = field;
    this.retryAfter = retryAfter;
  }
}

/** The URL of a report route with only the parameters that are set. */
export function reportUrl(route, params = {}) {
  const url = new URL(`${API_BASE}/${route}`, location.origin);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
  }
  return url.pathname + url.search;
}

async function failure(response) {
  let code = "http_error";
  let message = "";
  let field;
  try {
    const body = await response.json();
    ({ code = code, message = "", field } = body.error || {});
  } catch {
    /* not JSON: keep the status */
  }
  const retry = Number.parseInt(response.headers.get("Retry-After") || "", 10);
  return new ApiError(response.status, code, message, field, Number.isFinite(retry) ? retry : undefined);
}

async function getJson(url, signal) {
  let response;
  try {
    response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", signal });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "network", "The analytics service could not be reached.");
  }
  if (!response.ok) throw await failure(response);
  return response.json();
}

/** The same route as CSV (the API answers `text/csv` to `Accept: text/csv`), as a Blob. */
export async function fetchCsv(url, local) {
  if (local) return new Blob([local()], { type: "text/csv;charset=utf-8" }); // built in the page
  let response;
  try {
    response = await fetch(url, { headers: { Accept: "text/csv" }, credentials: "same-origin" });
  } catch {
    throw new ApiError(0, "network", "The analytics service could not be reached.");
  }
  if (!response.ok) throw await failure(response);
  return new Blob([await response.arrayBuffer()], { type: "text/csv;charset=utf-8" });
}

const scoped = (row, filters) =>
  row.tenant === (filters.tenant || ALL) && row.user_type === (filters.user_type || ALL); // ASSUMPTION 2
export const OTHER = "(other)";

/** `GET /tenants` → [{tenant, name, first_seen}] sorted by display name. */
export async function tenants(signal) {
  const body = await getJson(reportUrl("tenants"), signal);
  return [...body.tenants].sort((a, b) => (a.name || a.tenant).localeCompare(b.name || b.tenant));
}

/** Query parameters of each request, exposed so CSV links use the very same URL. */
export const requests = {
  activeUsers: (f, grain) =>
    reportUrl("active-users", { grain, from: f.from, to: f.to, tenant: f.tenant, user_type: f.user_type }),
  features: (f, grain) =>
    reportUrl("features", { grain, from: f.from, to: f.to, tenant: f.tenant, user_type: f.user_type, app: f.app }),
  retention: (f) => reportUrl("retention", { from: f.from, to: f.to, tenant: f.tenant, user_type: f.user_type }),
  onboarding: (tenant, weeks) => reportUrl("onboarding", { tenant, weeks }),
  launch: (f, feature, app, date, weeks) =>
    reportUrl("launch", { feature, app, date, weeks, tenant: f.tenant, user_type: f.user_type }),
};

// ---- honest display (ASSUMPTION 9) --------------------------------------------------------------

/** True when a row's `field` is not shown: the row says `hidden`, or the count is null/absent. */
export const isHidden = (row, field) => !row || row.hidden === true || row[field] === null || row[field] === undefined;

/** The 95 % margin of error of a row's `field`, or null when the row has none. */
export const moeOf = (row, field) => (row && row.moe && typeof row.moe[field] === "number" ? row.moe[field] : null);

/** The label of the period (at `grain`) that holds `iso`. */
export const periodOf = (grain, iso) => (grain === "week" ? isoWeek(iso) : grain === "month" ? iso.slice(0, 7) : iso);

/** The period labels from the one holding `first` to the one holding `last`, in order. */
export function periodsBetween(grain, first, last) {
  const labels = [];
  let day = grain === "week" ? mondayOf(first) : grain === "month" ? `${first.slice(0, 7)}-01` : first;
  while (day <= last && labels.length < 2000) {
    labels.push(periodOf(grain, day));
    day = grain === "week" ? addDays(day, 7) : grain === "month" ? `${addDays(day, 32).slice(0, 7)}-01` : addDays(day, 1);
  }
  return labels;
}

/** The open (current, not yet built) period at `grain`: shown as "in progress", never as a low value. */
export const openPeriod = (grain) => periodOf(grain, today());

/**
 * Rows of a time series with every period from the first row to the range's end: a period the
 * server did not send (a suppressed cell) is a `hidden` row with null counts; periods from today's
 * on are `inProgress`. `fields` are the row's count fields.
 */
export function fillPeriods(rows, grain, to, fields) {
  if (!rows.length) return [];
  const byPeriod = new Map(rows.map((r) => [r.period, r]));
  const open = openPeriod(grain);
  const last = periodOf(grain, to);
  const labels = periodsBetween(grain, periodStart(rows[0].period), periodStart(last > open ? open : last));
  return labels.map((period) => {
    const row = byPeriod.get(period);
    const filled = row ? { ...row } : { period, ...Object.fromEntries(fields.map((f) => [f, null])), hidden: true, missing: true };
    filled.hidden = isHidden(filled, fields[0]);
    filled.inProgress = period >= open;
    return filled;
  });
}

/** Active users of the scope at one grain: {k, rows:[{period, active_users, sessions, events, hidden, inProgress, moe}]}. */
export async function activeUsers(filters, grain, signal) {
  const body = await getJson(requests.activeUsers(filters, grain), signal);
  const rows = body.rows
    .filter((row) => scoped(row, filters))
    .map(({ period, active_users, sessions, events, stickiness, hidden, moe }) => ({ period, active_users: active_users ?? null, sessions: sessions ?? null, events: events ?? null, stickiness: stickiness ?? null, hidden: hidden === true, moe: moe || null }))
    .sort((a, b) => a.period.localeCompare(b.period));
  return { k: body.k, rows: fillPeriods(rows, grain, filters.to, ["active_users", "sessions", "events"]), url: requests.activeUsers(filters, grain) };
}

// ---- the tenant table, funnels, consent coverage, launch markers -------------------------------

/** ASSUMPTION 10. */
export async function tenantTable(weeks, signal) {
  const url = reportUrl("tenant-table", { weeks });
  return { ...(await getJson(url, signal)), url };
}

/** ASSUMPTION 11: one funnel's step rows for the scope, oldest week first. */
export async function funnels(filters, funnel, mode, signal) {
  const url = reportUrl("funnels", { funnel, mode, from: filters.from, to: filters.to, tenant: filters.tenant, user_type: filters.user_type });
  const body = await getJson(url, signal);
  const rows = body.rows.filter((row) => scoped(row, filters)).sort((a, b) => a.week.localeCompare(b.week) || a.step - b.step);
  return { ...body, rows, url };
}

/** ASSUMPTION 11: consent coverage, overall (and per tenant once the server has it). */
export async function coverage(signal) {
  const url = reportUrl("coverage");
  return { ...(await getJson(url, signal)), url };
}

/** `GET /status` → {demo_seeding, ...}: whether the local host is still seeding its demo data. */
export async function status(signal) {
  return getJson(reportUrl("status"), signal);
}

/** ASSUMPTION 11: the launch markers, oldest first (drawn on every time chart). */
export async function markers(signal) {
  const body = await getJson(reportUrl("markers"), signal);
  return body.markers || [];
}

/**
 * Feature rows of the scope: {k, rows:[{period, app, feature, users, events, share|null}]}, the
 * `other` events (ASSUMPTION 3) as rows with app and feature `(other)` and 0 users.
 */
export async function features(filters, grain, signal) {
  const body = await getJson(requests.features(filters, grain), signal);
  const rows = body.rows
    .filter((row) => scoped(row, filters) && (!filters.app || row.app === filters.app))
    .map(({ period, app, feature, users, events, share, hidden, moe }) => ({ period, app, feature, users: users ?? null, events: events ?? null, share: share ?? null, hidden: hidden === true || users === null || users === undefined, moe: moe || null }));
  const folded = (body.other || [])
    .filter((row) => scoped(row, filters))
    .map(({ period, events }) => ({ period, app: OTHER, feature: OTHER, users: 0, events, share: null }));
  return { k: body.k, rows: [...rows, ...folded].sort((a, b) => a.period.localeCompare(b.period)), url: requests.features(filters, grain) };
}

/** Cohorts of the scope: {k, rows:[{cohort, users, active:[12]}]}. */
export async function retention(filters, signal) {
  const body = await getJson(requests.retention(filters), signal);
  const rows = body.rows
    .filter((row) => scoped(row, filters))
    .map(({ cohort, users, active, weeks_elapsed, hidden, moe }) => ({ cohort, users: hidden ? null : users ?? null, active: active || [], weeksElapsed: weeks_elapsed ?? null, hidden: hidden === true, moe: moe || null }))
    .sort((a, b) => a.cohort.localeCompare(b.cohort));
  return { k: body.k, rows, url: requests.retention(filters) };
}

/** ASSUMPTION 5: one tenant week by week since its first event (up to `filters.to`). */
export async function onboarding(filters, tenant, signal) {
  const weeks = Math.max(1, Math.min(MAX_ONBOARDING_WEEKS, Math.floor(daysBetween(mondayOf(tenant.first_seen), filters.to) / 7) + 1));
  const url = requests.onboarding(tenant.tenant, weeks);
  const body = await getJson(url, signal);
  return { k: body.k, weeks, name: body.name, first_seen: body.first_seen, rows: body.rows, url };
}

/** The weekly feature rows of the window `weeks` weeks either side of `date`'s ISO week. */
export function launchWindow(date, weeks) {
  const launch = mondayOf(date);
  return { launch, launchWeek: isoWeek(launch), from: addDays(launch, -7 * weeks), to: addDays(launch, 7 * weeks - 1) };
}

/** ASSUMPTION 6: one feature's weeks before and after a launch date. */
export async function launch(filters, feature, app, date, weeks, signal) {
  const url = requests.launch(filters, feature, app, date, weeks);
  const body = await getJson(url, signal);
  return { ...body, url };
}

// ---- surveys (functions/surveys.py, shared/notifications/models.py: SurveyReport) ---------------------

export const NPS_GROUPS = ["promoters", "passives", "detractors"];

/**
 * `GET /surveys` → {k, surveys, trends}. Each survey: {id, title, status, series, question:{type,
 * text, options}, starts_at, ends_at, as_of (the snapshot's time), answers, suppressed,
 * distribution:{answer: people}, nps, nps_groups:{promoters|passives|detractors|(other): people},
 * mean (nps/mean null when a group or rating under k had to be folded), by_user_type,
 * by_tenant:[{key, answers, nps, mean}]}, newest first; `trends`: [{series, points:[{id, title,
 * starts_at, answers, nps}]}], oldest first. Every count is 0 or >= k (the server folds smaller
 * ones into `(other)`); a survey under k is `suppressed` with nothing else. No comments, ever.
 * Tenant cells are keyed like `/tenants` names them (names are looked up, never required).
 */
export async function surveys(signal) {
  const url = reportUrl("surveys");
  const body = await getJson(url, signal);
  return { k: body.k, surveys: body.surveys, trends: body.trends, url };
}

/** The NPS trend of a survey's series (points oldest first), or null for a survey without one. */
export function trendOf(report, survey) {
  if (!survey.series || survey.question.type !== "nps") return null;
  return report.trends.find((t) => t.series === survey.series) || null;
}

/** The answer buckets in the question's order: 0-10, 1-5 or the options, then `(other)`. */
export function answerBuckets(survey) {
  const { type, options } = survey.question;
  const all = type === "choice" ? options : type === "nps" ? Array.from({ length: 11 }, (_, i) => String(i)) : ["1", "2", "3", "4", "5"];
  const shown = all.filter((a) => a in survey.distribution).map((a) => ({ answer: a, people: survey.distribution[a] }));
  if (OTHER in survey.distribution) shown.push({ answer: OTHER, people: survey.distribution[OTHER] });
  return shown;
}

/**
 * A survey's figures as CSV text, built in the page from the answer it already has (`/surveys`
 * answers JSON only): one row per figure, `section` saying which. Text cells that a spreadsheet
 * would run as a formula (= + - @ tab CR) get a leading apostrophe; numbers stay numbers.
 */
export function surveyCsv(report, survey, nameOf) {
  const rows = [["survey", "question", "section", "key", "name", "answers", "nps", "mean"]];
  const add = (section, key, name, answers, nps = null, mean = null) => rows.push([survey.title, survey.question.text, section, key, name, answers, nps, mean]);
  add("overall", ALL, ALL, survey.answers, survey.nps, survey.mean);
  for (const b of answerBuckets(survey)) add("answer", b.answer, b.answer, b.people);
  for (const g of [...NPS_GROUPS, OTHER]) if (survey.nps_groups[g]) add("nps_group", g, g, survey.nps_groups[g]);
  for (const c of survey.by_user_type) add("user_type", c.key, nameOf(c.key, "user_type"), c.answers, c.nps, c.mean);
  for (const c of survey.by_tenant) add("tenant", c.key, nameOf(c.key, "tenant"), c.answers, c.nps, c.mean);
  for (const p of trendOf(report, survey)?.points || []) add("nps_trend", p.id, p.title, p.answers, p.nps);
  const cell = (v) => {
    if (v === null || v === undefined) return "";
    if (typeof v === "number") return String(v);
    const text = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  return rows.map((r) => r.map(cell).join(",")).join("\r\n") + "\r\n";
}

// ---- dates (UTC, ISO weeks) -----------------------------------------------------------------

const DAY = 86400000;
const parse = (iso) => new Date(`${iso}T00:00:00Z`);
const format = (date) => date.toISOString().slice(0, 10);

export const addDays = (iso, days) => format(new Date(parse(iso).getTime() + days * DAY));
export const minDate = (a, b) => (a < b ? a : b);
export const daysBetween = (a, b) => Math.round((parse(b) - parse(a)) / DAY);
export const today = () => format(new Date());

export function mondayOf(iso) {
  const date = parse(iso);
  return addDays(iso, -((date.getUTCDay() + 6) % 7));
}

/** ISO 8601 week label `YYYY-Www` of a date (ASSUMPTION 1). */
export function isoWeek(iso) {
  const date = parse(iso);
  const thursday = new Date(date.getTime() + (3 - ((date.getUTCDay() + 6) % 7)) * DAY);
  const yearStart = Date.UTC(thursday.getUTCFullYear(), 0, 1);
  const week = 1 + Math.floor((thursday.getTime() - yearStart) / DAY / 7);
  return `${thursday.getUTCFullYear()}-W${String(week).padStart(2, "0")}`;
}

/** The Monday of an ISO week label. */
export function weekStart(label) {
  const [year, week] = label.split("-W").map(Number);
  const jan4 = `${year}-01-04`;
  return addDays(mondayOf(jan4), (week - 1) * 7);
}

/** Start date of a period label at any grain (ASSUMPTION 1). */
export function periodStart(period) {
  if (/^\d{4}-W\d{2}$/.test(period)) return weekStart(period);
  if (/^\d{4}-\d{2}$/.test(period)) return `${period}-01`;
  return period;
}
