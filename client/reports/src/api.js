// The ONE place that knows the report API: paths, query parameters, row shapes, and the
// assumptions the contract (../shared/api-contract.md, `/api/reports/*`) does not pin down.
// Everything else in the page works on what these functions return.
//
// Assumptions (to align with the server routes; each is marked ASSUMPTION below):
//  1. `period` is `YYYY-MM-DD` for grain=day, ISO week `YYYY-Www` for grain=week, `YYYY-MM` for
//     grain=month (the retention route's `cohort` is documented as `YYYY-Www`).
//  2. Rows of the caller's scope are labelled with the filter's value, and a dimension that was
//     not filtered is `"(all)"`; other rows (breakdowns, `(other)` folds) may be present and are
//     not used for the scope's totals.
//  3. Tenant onboarding and launch comparison have no route of their own: they are derived here
//     from `/active-users` and `/features` (grain=week) — onboarding = the tenant's weekly active
//     users plus the features with users in each week since `first_seen`; launch = one feature's
//     weekly rows N weeks either side of a date. Distinct users are never added across periods.
//  4. The API caps a range; the page never asks for more than MAX_RANGE_DAYS at once.
//  5. Error bodies are the contract's `{"error":{"code","message","field"}}`; 503 carries
//     `Retry-After` in seconds.

export const API_BASE = "/api/reports";
export const MAX_RANGE_DAYS = 366; // ASSUMPTION 4
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
export async function fetchCsv(url) {
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
};

/** Active users of the scope at one grain: {k, rows:[{period, active_users, sessions, events}]}. */
export async function activeUsers(filters, grain, signal) {
  const body = await getJson(requests.activeUsers(filters, grain), signal);
  const rows = body.rows
    .filter((row) => scoped(row, filters))
    .map(({ period, active_users, sessions, events }) => ({ period, active_users, sessions, events }))
    .sort((a, b) => a.period.localeCompare(b.period));
  return { k: body.k, rows, url: requests.activeUsers(filters, grain) };
}

/** Feature rows of the scope: {k, rows:[{period, app, feature, users, events, share}]}. */
export async function features(filters, grain, signal) {
  const body = await getJson(requests.features(filters, grain), signal);
  const rows = body.rows
    .filter((row) => scoped(row, filters) && (!filters.app || row.app === filters.app))
    .map(({ period, app, feature, users, events, share }) => ({ period, app, feature, users, events, share }))
    .sort((a, b) => a.period.localeCompare(b.period));
  return { k: body.k, rows, url: requests.features(filters, grain) };
}

/** Cohorts of the scope: {k, rows:[{cohort, users, active:[12]}]}. */
export async function retention(filters, signal) {
  const body = await getJson(requests.retention(filters), signal);
  const rows = body.rows
    .filter((row) => scoped(row, filters))
    .map(({ cohort, users, active }) => ({ cohort, users, active }))
    .sort((a, b) => a.cohort.localeCompare(b.cohort));
  return { k: body.k, rows, url: requests.retention(filters) };
}

/** ASSUMPTION 3: one tenant's weeks since its first event, from two existing routes. */
export async function onboarding(filters, tenant, signal) {
  const from = tenant.first_seen;
  const to = minDate(filters.to, addDays(from, MAX_RANGE_DAYS - 1));
  const scope = { ...filters, tenant: tenant.tenant, from, to };
  const [active, used] = await Promise.all([activeUsers(scope, "week", signal), features(scope, "week", signal)]);
  return { k: active.k, from, to, active: active.rows, features: used.rows, urls: [active.url, used.url] };
}

/** ASSUMPTION 3: a feature's weekly rows `weeks` weeks before and after `date` (Monday-aligned). */
export async function launchWindow(filters, date, weeks, signal) {
  const launch = mondayOf(date);
  const scope = { ...filters, from: addDays(launch, -7 * weeks), to: addDays(launch, 7 * weeks - 1) };
  const result = await features(scope, "week", signal);
  return { ...result, launch, launchWeek: isoWeek(launch), from: scope.from, to: scope.to };
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
