// The six report views. Each `load` fetches through api.js; each `render` builds DOM from the
// result (text only) and returns the CSV downloads it offers.
import * as api from "./api.js";
import { disposeCharts, legendNote, timeChart } from "./charts.js";
import { bar, el, fmt, sparkline, svg, table, tenantLabel, userTypeLabel } from "./dom.js";

const GRAIN_NAMES = { day: "day", week: "week", month: "month" };
const periodLabel = (period) => period;

function kpi(label, value, detail) {
  return el("div", { class: "kpi" }, el("dt", {}, label), el("dd", {}, el("span", { class: "kpi-value" }, value), detail ? el("span", { class: "kpi-detail" }, detail) : null));
}

function empty(message) {
  return el("p", { class: "empty" }, message);
}

const NO_DATA = "No data for these filters. Cells under k people are suppressed, so a small tenant or user type may show nothing.";

function details(summary, content, open = false) {
  const node = el("details", { class: "table-details" }, el("summary", {}, summary), content);
  node.open = open;
  return node;
}

// ---- Active users -----------------------------------------------------------------------------

/**
 * Stickiness per month: the server's `stickiness` (mean DAU over the month's days ÷ MAU) when it
 * sends one, else the same from the day rows within the range (days without a row count as 0).
 */
export function stickiness(days, months, from, to) {
  return months.map((month) => {
    if (month.stickiness !== null && month.stickiness !== undefined) {
      return { period: month.period, avg_dau: month.stickiness * month.active_users, mau: month.active_users, ratio: month.stickiness };
    }
    const start = month.period > from.slice(0, 7) ? `${month.period}-01` : from;
    const lastDay = api.addDays(api.addDays(`${month.period}-01`, 32).slice(0, 7) + "-01", -1);
    const end = lastDay < to ? lastDay : to;
    const span = api.daysBetween(start, end) + 1;
    const total = days.filter((d) => d.period >= start && d.period <= end).reduce((sum, d) => sum + d.active_users, 0);
    const avgDau = span > 0 ? total / span : 0;
    return { period: month.period, avg_dau: avgDau, mau: month.active_users, ratio: month.active_users ? avgDau / month.active_users : null };
  });
}

export const activeUsers = {
  id: "active",
  title: "Active users",
  async load(filters, signal) {
    const [day, week, month] = await Promise.all(["day", "week", "month"].map((g) => api.activeUsers(filters, g, signal)));
    return { filters, day, week, month, k: day.k };
  },
  render(data) {
    const { filters } = data;
    const grain = filters.grain;
    const current = data[grain];
    const downloads = ["day", "week", "month"].map((g) => ({ label: `Download CSV: per ${g}`, url: data[g].url, name: `active-users-${g}` }));
    if (!current.rows.length) return { nodes: [empty(NO_DATA)], downloads };
    const sticky = stickiness(data.day.rows, data.month.rows, filters.from, filters.to);
    // averaged over the range's days since the first day with data (a quiet day after it counts
    // as 0): days before any data exists would otherwise pull the average down
    const firstDay = data.day.rows.reduce((m, r) => (r.period < m ? r.period : m), filters.to);
    const days = Math.max(1, api.daysBetween(firstDay > filters.from ? firstDay : filters.from, filters.to) + 1);
    const avgDau = data.day.rows.reduce((s, r) => s + r.active_users, 0) / days;
    const lastWeek = data.week.rows.at(-1);
    const lastMonth = data.month.rows.at(-1);
    const lastSticky = sticky.at(-1);
    const kpis = el(
      "dl",
      { class: "kpis" },
      kpi("Average daily active users", fmt.int(avgDau), firstDay > filters.from ? `${fmt.int(days)} days since the first data` : `${fmt.int(days)} days`),
      kpi("Weekly active users", lastWeek ? fmt.int(lastWeek.active_users) : "–", lastWeek ? `latest week ${lastWeek.period}` : ""),
      kpi("Monthly active users", lastMonth ? fmt.int(lastMonth.active_users) : "–", lastMonth ? `latest month ${lastMonth.period}` : ""),
      kpi("Stickiness (DAU ÷ MAU)", lastSticky ? fmt.pct(lastSticky.ratio) : "–", lastSticky ? `month ${lastSticky.period}` : ""),
      kpi("Sessions", fmt.int(data.day.rows.reduce((s, r) => s + r.sessions, 0)), "whole range"),
      kpi("Events", fmt.int(data.day.rows.reduce((s, r) => s + r.events, 0)), "whole range"),
    );
    const rows = current.rows;
    const chart = timeChart({
      label: `Line chart of active users, sessions and events per ${grain} from ${filters.from} to ${filters.to}. The same numbers are in the table "Active users per ${grain}" below.`,
      x: rows.map((r) => api.periodStart(r.period)),
      grain,
      leftLabel: "Active users · sessions",
      rightLabel: "Events",
      series: [
        { label: "Active users", values: rows.map((r) => r.active_users), color: "#1f5fa8" },
        { label: "Sessions", values: rows.map((r) => r.sessions), color: "#2e7d32", dash: [6, 4] },
        { label: "Events", values: rows.map((r) => r.events), color: "#b34700", axis: "right", dash: [2, 3] },
      ],
    });
    const perGrain = table(`Active users per ${grain}`, [
      { label: GRAIN_NAMES[grain][0].toUpperCase() + GRAIN_NAMES[grain].slice(1), cell: (r) => periodLabel(r.period) },
      { label: "Active users", numeric: true, cell: (r) => fmt.int(r.active_users) },
      { label: "Sessions", numeric: true, cell: (r) => fmt.int(r.sessions) },
      { label: "Events", numeric: true, cell: (r) => fmt.int(r.events) },
      { label: "Events per user", numeric: true, cell: (r) => (r.active_users ? (r.events / r.active_users).toFixed(1) : "–") },
    ], rows, { className: "data active-table" });
    const stickyTable = table("Stickiness per month: average daily active users ÷ monthly active users", [
      { label: "Month", cell: (r) => r.period },
      { label: "Average DAU", numeric: true, cell: (r) => fmt.int(r.avg_dau) },
      { label: "MAU", numeric: true, cell: (r) => fmt.int(r.mau) },
      { label: "DAU ÷ MAU", numeric: true, cell: (r) => fmt.pct(r.ratio) },
    ], sticky, { className: "data sticky-table" });
    return {
      nodes: [kpis, chart, el("div", { class: "tables" }, details(`Table: active users per ${grain} (${rows.length} rows)`, perGrain, rows.length <= 20), stickyTable)],
      downloads,
    };
  },
};

// ---- Feature adoption -------------------------------------------------------------------------

const featureKey = (r) => `${r.app}::${r.feature}`; // app ids never contain ":"
const splitKey = (key) => [key.slice(0, key.indexOf("::")), key.slice(key.indexOf("::") + 2)];
export const featureGrain = (grain) => (grain === "month" ? "month" : "week");

export const adoption = {
  id: "adoption",
  title: "Feature adoption",
  async load(filters, signal) {
    const grain = featureGrain(filters.grain);
    return { filters, grain, features: await api.features(filters, grain, signal) };
  },
  render({ filters, grain, features }) {
    const downloads = [{ label: `Download CSV: features per ${grain}`, url: features.url, name: `features-${grain}` }];
    const rows = features.rows;
    if (!rows.length) return { nodes: [empty(NO_DATA)], downloads };
    const periods = [...new Set(rows.map((r) => r.period))].sort();
    const latest = periods.at(-1);
    const byFeature = new Map();
    for (const r of rows) {
      const key = featureKey(r);
      if (!byFeature.has(key)) byFeature.set(key, { app: r.app, feature: r.feature, perPeriod: new Map(), events: 0 });
      const f = byFeature.get(key);
      f.perPeriod.set(r.period, r);
      f.events += r.events;
    }
    const list = [...byFeature.values()].map((f) => {
      const last = f.perPeriod.get(latest);
      // the folded row's people are not known (only its events): no share, not "0 %"
      return { ...f, users: last ? last.users : 0, share: f.feature === api.OTHER ? null : last ? last.share : 0, lastEvents: last ? last.events : 0, series: periods.map((p) => f.perPeriod.get(p)?.users ?? 0) };
    });
    const folded = (f) => f.feature === "(other)" || f.app === "(other)";
    list.sort((a, b) => folded(a) - folded(b) || b.users - a.users || b.events - a.events || a.feature.localeCompare(b.feature));
    const maxUsers = Math.max(1, ...list.map((f) => f.users));
    const note = grain !== filters.grain ? el("p", { class: "note" }, "Feature adoption is reported per week or month; the day grain shows weeks.") : null;
    const adoptionTable = table(
      `Features in ${latest} (latest ${grain} in range), with users per ${grain} from ${periods[0]} to ${latest}`,
      [
        { label: "Feature", cell: (f) => (folded(f) ? "(other) — features used by fewer than k people, folded" : f.feature) },
        { label: "App", cell: (f) => f.app },
        { label: `Users in ${latest}`, numeric: true, cell: (f) => el("span", { class: "with-bar" }, bar(f.users / maxUsers), el("span", { class: "val" }, fmt.int(f.users))) },
        { label: "Share of active users", numeric: true, cell: (f) => el("span", { class: "with-bar" }, bar(f.share, "bar share"), el("span", { class: "val" }, fmt.pct(f.share))) },
        { label: `Events in ${latest}`, numeric: true, cell: (f) => fmt.int(f.lastEvents) },
        { label: "Events, whole range", numeric: true, cell: (f) => fmt.int(f.events) },
        {
          label: `Users per ${grain}`,
          cell: (f) => sparkline(f.series, `Users per ${grain} of ${f.feature}: ${f.series.map(fmt.int).join(", ")}`),
        },
      ],
      list,
      { className: "data adoption-table" },
    );
    return { nodes: [note, adoptionTable].filter(Boolean), downloads };
  },
};

// ---- Retention --------------------------------------------------------------------------------

export const retention = {
  id: "retention",
  title: "Retention",
  async load(filters, signal) {
    return { filters, retention: await api.retention(filters, signal) };
  },
  render({ retention: data }) {
    const downloads = [{ label: "Download CSV: cohorts", url: data.url, name: "retention" }];
    if (!data.rows.length) return { nodes: [empty(NO_DATA)], downloads };
    const thisWeek = api.mondayOf(api.today());
    const weeks = Array.from({ length: 12 }, (_, i) => i + 1);
    const head = el("tr", {}, el("th", { scope: "col" }, "Cohort (first week)"), el("th", { scope: "col", class: "num" }, "New users"), weeks.map((w) => el("th", { scope: "col", class: "num" }, `+${w} wk`)));
    const body = data.rows.map((row) => {
      const start = api.weekStart(row.cohort);
      return el(
        "tr",
        {},
        el("th", { scope: "row" }, el("span", { class: "cohort" }, row.cohort), el("span", { class: "cohort-date" }, `from ${start}`)),
        el("td", { class: "num users" }, fmt.int(row.users)),
        weeks.map((w) => {
          const unknown = row.weeksElapsed !== null ? w > row.weeksElapsed : api.addDays(start, 7 * w) > thisWeek;
          if (unknown) return el("td", { class: "heat future" }, el("span", { class: "visually-hidden" }, "not yet reached"), el("span", { "aria-hidden": "true" }, "·"));
          const count = row.active[w - 1] ?? 0;
          if (count === 0) {
            // the k rule: a kept 0 also stands for 1..k-1 people, so it is not shown as "0 %"
            return el("td", { class: "heat heat-0 under-k" }, el("span", { class: "pct" }, `<${data.k}`), el("span", { class: "visually-hidden" }, ` people: none or fewer than ${data.k}`));
          }
          const share = row.users ? count / row.users : 0;
          return el("td", { class: `heat heat-${Math.min(10, Math.round(share * 10))}` }, el("span", { class: "pct" }, fmt.pct(share)), el("span", { class: "count" }, fmt.int(count)));
        }),
      );
    });
    const heat = el(
      "table",
      { class: "data heatmap" },
      el("caption", {}, "Share of each weekly cohort active in each of the following 12 weeks (percentage, and number of people below it)"),
      el("thead", {}, head),
      el("tbody", {}, body),
    );
    const legend = el(
      "div",
      { class: "heat-legend", "aria-hidden": "true" },
      el("span", {}, "0 %"),
      Array.from({ length: 11 }, (_, i) => el("span", { class: `swatch heat-${i}` })),
      el("span", {}, "100 %"),
      el("span", { class: "legend-note" }, `“<${data.k}”: none or fewer than ${data.k} people (k rule) · “·”: week not over yet`),
    );
    return { nodes: [legend, el("div", { class: "scroll" }, heat)], downloads };
  },
};

// ---- Tenant onboarding -------------------------------------------------------------------------

/** The onboarding rows with the running count of features adopted so far. */
export function onboardingWeeks(rows) {
  let adopted = 0;
  return rows.map((row) => {
    adopted += row.new_features.length;
    return { ...row, cumulative: adopted };
  });
}

export const onboarding = {
  id: "onboarding",
  title: "Tenant onboarding",
  async load(filters, signal, context) {
    const withData = context.tenants.filter((t) => t.first_seen);
    const chosen = context.tenants.find((t) => t.tenant === filters.tenant);
    const tenant = chosen || [...withData].sort((a, b) => b.first_seen.localeCompare(a.first_seen))[0];
    if (!tenant || !tenant.first_seen) return { filters, tenant: tenant || null };
    return { filters, tenant, picked: !chosen, data: await api.onboarding(filters, tenant, signal) };
  },
  render({ tenant, picked, data }) {
    if (!tenant) return { nodes: [empty("No tenant has sent events yet.")], downloads: [] };
    if (!data) return { nodes: [empty(`${tenantLabel(tenant)} has no events yet.`)], downloads: [] };
    const downloads = [{ label: "Download CSV: weeks since the first event", url: data.url, name: "onboarding" }];
    // the current week is built when it closes: until then the server sends it as zeros
    const open = api.isoWeek(api.today());
    const weeks = onboardingWeeks(data.rows.filter((r) => r.week < open));
    const closed = weeks.length < data.rows.length ? " (this week is added once it closes)" : "";
    const intro = el(
      "p",
      { class: "lead" },
      el("strong", {}, tenantLabel(tenant)),
      ` — first event on ${tenant.first_seen}; ${weeks.length === 1 ? "its first week" : `its first ${weeks.length} weeks`}${closed}.`,
      picked ? " Showing the newest tenant; pick another in the Tenant filter." : "",
    );
    if (!weeks.length) return { nodes: [intro, empty(NO_DATA)], downloads };
    const chart = timeChart({
      label: `Chart of ${tenantLabel(tenant)}'s weekly active users and the number of features adopted so far, since its first event. The same numbers are in the table below.`,
      x: weeks.map((w) => api.weekStart(w.week)),
      grain: "week",
      leftLabel: "Active users",
      rightLabel: "Features adopted",
      series: [
        { label: "Active users", values: weeks.map((w) => w.active_users), color: "#1f5fa8" },
        { label: "Features adopted (cumulative)", values: weeks.map((w) => w.cumulative), color: "#6a3d9a", axis: "right", dash: [6, 4] },
      ],
    });
    const weekTable = table(`${tenantLabel(tenant)}: week by week since its first event`, [
      { label: "Week", cell: (w) => w.week },
      { label: "Week no.", numeric: true, cell: (w) => String(1 + Math.round(api.daysBetween(api.mondayOf(tenant.first_seen), api.weekStart(w.week)) / 7)) },
      { label: "Active users", numeric: true, cell: (w) => fmt.int(w.active_users) },
      { label: "Sessions", numeric: true, cell: (w) => fmt.int(w.sessions) },
      { label: "Events", numeric: true, cell: (w) => fmt.int(w.events) },
      { label: "Features used", numeric: true, cell: (w) => fmt.int(w.features_adopted) },
      { label: "Adopted so far", numeric: true, cell: (w) => fmt.int(w.cumulative) },
      { label: "First used this week", cell: (w) => (w.new_features.length ? w.new_features.join(", ") : "—"), className: () => "wrap" },
    ], weeks, { className: "data onboarding-table" });
    return { nodes: [intro, chart, weekTable], downloads };
  },
};

// ---- Launch comparison -------------------------------------------------------------------------

/** Growth of one feature's weekly users across the launch week (the window is symmetric). */
function gain(rows, key, launchWeek) {
  const mine = rows.filter((r) => featureKey(r) === key);
  const total = (list) => list.reduce((s, r) => s + r.users, 0);
  return total(mine.filter((r) => r.period >= launchWeek)) - total(mine.filter((r) => r.period < launchWeek));
}

/**
 * The likely launch: a feature nobody used before the launch week (a new feature) with the most
 * users from it on; if there is none, the feature whose weekly users grew most across the date
 * (a growing product grows its old features too, so growth alone would suggest /home).
 */
export function suggestFeature(rows, launchWeek) {
  const keys = [...new Set(rows.filter((r) => r.feature !== api.OTHER).map(featureKey))].sort();
  const before = new Set(rows.filter((r) => r.period < launchWeek && r.users > 0).map(featureKey));
  let best = keys[0];
  let bestScore = [-1, -Infinity];
  for (const key of keys) {
    const score = [before.has(key) ? 0 : 1, gain(rows, key, launchWeek)];
    if (score[0] > bestScore[0] || (score[0] === bestScore[0] && score[1] > bestScore[1])) [best, bestScore] = [key, score];
  }
  return best;
}

export const launch = {
  id: "launch",
  title: "Launch comparison",
  async load(filters, signal, context) {
    const { date, weeks } = context.launch;
    const window = api.launchWindow(date, weeks);
    const candidates = await api.features({ ...filters, from: window.from, to: window.to }, "week", signal);
    const keys = [...new Set(candidates.rows.filter((r) => r.feature !== api.OTHER).map(featureKey))].sort();
    const key = keys.includes(context.launch.feature) ? context.launch.feature : suggestFeature(candidates.rows, window.launchWeek);
    if (!key) return { filters, weeks, window, keys, candidates };
    const [app, feature] = splitKey(key);
    const result = await api.launch(filters, feature, app, date, weeks, signal);
    return { filters, weeks, window, keys, key, candidates, result, k: result.k };
  },
  render({ weeks, window: w, keys, key, candidates, result }, context) {
    context.setFeatureOptions(keys.map((k) => {
      const [app, feature] = splitKey(k);
      return { value: k, label: `${feature} · ${app}` };
    }));
    const downloads = [{ label: "Download CSV: features in the window", url: candidates.url, name: "launch-window" }];
    if (!key) return { nodes: [empty(NO_DATA)], downloads };
    if (key !== context.launch.feature) context.selectFeature(key);
    downloads.unshift({ label: "Download CSV: this feature per week", url: result.url, name: "launch" });
    const [app, feature] = splitKey(key);
    const rows = result.rows;
    const s = result.summary;
    const events = (phase) => rows.filter((r) => r.phase === phase).reduce((sum, r) => sum + r.events, 0);
    const summary = el(
      "dl",
      { class: "kpis" },
      kpi("Weekly users before", fmt.int(s.users_before), `average of ${weeks} weeks`),
      kpi("Weekly users after", fmt.int(s.users_after), `${fmt.change(s.users_before, s.users_after)} vs before`),
      kpi("Share before", fmt.pct(s.share_before), "of active users"),
      kpi("Share after", fmt.pct(s.share_after), `${fmt.change(s.share_before, s.share_after)} vs before`),
      kpi("Events before → after", `${fmt.int(events("before"))} → ${fmt.int(events("after"))}`, fmt.change(events("before"), events("after"))),
    );
    const chart = timeChart({
      label: `Bar chart of weekly users of ${feature} (${app}) ${weeks} weeks before and after the launch week ${w.launchWeek}, with its share of active users. The same numbers are in the table below.`,
      x: rows.map((r) => api.weekStart(r.week)),
      grain: "week",
      marker: { date: w.launch, label: `Launch ${w.launch}` },
      leftLabel: "Users per week",
      rightLabel: "Share of active users",
      rightFormat: fmt.pct,
      series: [
        { label: "Users before launch", values: rows.map((r) => (r.phase === "before" ? r.users : null)), color: "#7a8594", kind: "bars" },
        { label: "Users from launch", values: rows.map((r) => (r.phase === "after" ? r.users : null)), color: "#1f5fa8", kind: "bars" },
        { label: "Share of active users", values: rows.map((r) => r.share), color: "#b34700", axis: "right", format: fmt.pct },
      ],
    });
    const weekTable = table(`${feature} (${app}) per week, launch week ${w.launchWeek} (from ${w.launch})`, [
      { label: "Week", cell: (r) => r.week },
      { label: "Relative to launch", cell: (r) => (r.offset === 0 ? "launch week" : r.offset < 0 ? `${-r.offset} wk before` : `${r.offset} wk after`), className: (r) => r.phase },
      { label: "Users", numeric: true, cell: (r) => fmt.int(r.users) },
      { label: "Share of active users", numeric: true, cell: (r) => fmt.pct(r.share) },
      { label: "Events", numeric: true, cell: (r) => fmt.int(r.events) },
    ], rows, { className: "data launch-table" });
    return { nodes: [summary, chart, weekTable], downloads };
  },
};

// ---- Surveys ----------------------------------------------------------------------------------

const QUESTION_TYPES = { nps: "NPS (0–10)", rating: "Rating (1–5)", choice: "Single choice" };
const GROUP_LABELS = { promoters: "Promoters (9–10)", passives: "Passives (7–8)", detractors: "Detractors (0–6)", [api.OTHER]: "(other) — groups under k, folded" };
const day = (iso) => iso.slice(0, 10);
const rating = (n) => (n === null || n === undefined ? "–" : n.toLocaleString(navigator.language || "en-GB", { minimumFractionDigits: 1, maximumFractionDigits: 2 }));
/** An NPS with its sign and one decimal (`+20.0`, `−3.5`, `0.0`); axis ticks without decimals. */
const signed = (n, digits = 1) => (n === null || n === undefined ? "–" : `${n > 0 ? "+" : n < 0 ? "−" : ""}${Math.abs(n).toLocaleString(navigator.language || "en-GB", { minimumFractionDigits: digits, maximumFractionDigits: digits })}`);
const surveyOption = (s) => `${s.title} · ${day(s.starts_at)}${s.status === "archived" ? " (archived)" : ""}`;

/** A cell's name: a user type's label, a tenant's directory name (if `/tenants` gave one). */
function cellName(key, kind, tenants) {
  if (key === api.OTHER) return `(other) — ${kind === "tenant" ? "tenants" : "user types"} with fewer than k answers, folded`;
  if (kind === "user_type") return userTypeLabel(key);
  const known = tenants.find((t) => t.tenant === key);
  return known ? tenantLabel(known) : tenantLabel({ tenant: key, name: null });
}

function npsBar(groups, total) {
  const order = [...api.NPS_GROUPS, api.OTHER].filter((g) => groups[g]);
  let x = 0;
  const parts = order.map((g) => {
    const width = (100 * groups[g]) / total;
    const rect = svg("rect", { class: `nps-${g === api.OTHER ? "other" : g}`, x: x.toFixed(2), y: 0, width: width.toFixed(2), height: 10 });
    x += width;
    return rect;
  });
  return svg("svg", { class: "nps-bar", viewBox: "0 0 100 10", preserveAspectRatio: "none", "aria-hidden": "true", focusable: "false" }, parts);
}

function surveyDetail(report, survey, tenants) {
  const k = report.k;
  const head = el(
    "div",
    { class: "survey-head" },
    el("h3", { class: "survey-title" }, survey.title),
    el("p", { class: "survey-question" }, `“${survey.question.text}”`),
    el(
      "p",
      { class: "survey-meta" },
      el("span", { class: `badge status-${survey.status}` }, survey.status === "published" ? "Live" : survey.status === "archived" ? "Archived" : "Draft"),
      ` ${QUESTION_TYPES[survey.question.type]} · open ${day(survey.starts_at)} → ${day(survey.ends_at)}${survey.series ? ` · series “${survey.series}”` : ""}`,
      // Results are a snapshot (renewed at most every 6 hours, after k more answers), never live.
      survey.as_of ? ` · results as of ${survey.as_of.slice(0, 16).replace("T", " ")} UTC` : "",
    ),
  );
  const trend = api.trendOf(report, survey);
  const trendNodes = trend ? npsTrend(trend, survey, k) : [];
  if (survey.suppressed) {
    return [head, el("p", { class: "empty suppressed" }, `Fewer than ${k} people have answered this survey, so no results are shown (k rule). Results appear once ${k} or more have answered.`), ...trendNodes];
  }
  const total = survey.answers;
  const kpis = [kpi("Answers", fmt.int(total), "people who answered")];
  if (survey.question.type === "nps") {
    kpis.push(kpi("NPS", signed(survey.nps), survey.nps === null ? `withheld: a group has fewer than ${k} people (k rule)` : "% promoters − % detractors"));
    for (const g of [...api.NPS_GROUPS, api.OTHER]) {
      if (survey.nps_groups[g]) kpis.push(kpi(GROUP_LABELS[g], fmt.pct(survey.nps_groups[g] / total), `${fmt.int(survey.nps_groups[g])} people`));
    }
  } else if (survey.question.type === "rating") {
    kpis.push(kpi("Average rating", rating(survey.mean), survey.mean === null ? `withheld: a rating has fewer than ${k} people (k rule)` : "out of 5"));
  } else {
    const top = api.answerBuckets(survey).filter((b) => b.answer !== api.OTHER).sort((a, b) => b.people - a.people)[0];
    if (top) kpis.push(kpi("Most chosen", top.answer, `${fmt.pct(top.people / total)} of answers`));
  }
  const nodes = [head, el("dl", { class: "kpis survey-kpis" }, kpis)];
  if (survey.question.type === "nps" && Object.keys(survey.nps_groups).length) {
    const legend = el(
      "ul",
      { class: "nps-legend" },
      [...api.NPS_GROUPS, api.OTHER].filter((g) => survey.nps_groups[g]).map((g) => el("li", {}, el("span", { class: `swatch nps-${g === api.OTHER ? "other" : g}`, "aria-hidden": "true" }), `${GROUP_LABELS[g]}: ${fmt.pct(survey.nps_groups[g] / total)}`)),
    );
    nodes.push(el("div", { class: "nps-split" }, npsBar(survey.nps_groups, total), legend));
  }
  const buckets = api.answerBuckets(survey);
  const most = Math.max(1, ...buckets.map((b) => b.people));
  const answerLabel = (b) => (b.answer === api.OTHER ? `(other) — answers chosen by fewer than ${k} people, folded` : b.answer);
  const distribution = table(
    `Answers to “${survey.question.text}”`,
    [
      { label: "Answer", cell: answerLabel },
      { label: "People", numeric: true, cell: (b) => el("span", { class: "with-bar" }, bar(b.people / most, `bar answer-bar${survey.question.type === "nps" ? ` nps-${npsGroupOf(b.answer)}` : ""}`), el("span", { class: "val" }, fmt.int(b.people))) },
      { label: "Share of answers", numeric: true, cell: (b) => fmt.pct(b.people / total) },
    ],
    buckets,
    { className: "data distribution-table" },
  );
  const measure = survey.question.type === "nps" ? "NPS" : survey.question.type === "rating" ? "Average rating" : null;
  const cells = (kind, caption, rows) =>
    table(
      caption,
      [
        { label: kind === "tenant" ? "Tenant" : "User type", cell: (c) => cellName(c.key, kind, tenants) },
        { label: "Answers", numeric: true, cell: (c) => fmt.int(c.answers) },
        ...(measure ? [{ label: measure, numeric: true, cell: (c) => (survey.question.type === "nps" ? signed(c.nps) : rating(c.mean)) }] : []),
      ],
      rows,
      { className: `data cells-table cells-${kind}` },
    );
  nodes.push(
    distribution,
    el("div", { class: "survey-grid" }, cells("user_type", "By user type", survey.by_user_type), cells("tenant", "By tenant", byAnswers(survey.by_tenant))),
    el("p", { class: "note" }, `Groups with fewer than ${k} answers are folded into “(other)” (and the smallest shown group joins them if “(other)” would itself be under ${k}), so no number here describes fewer than ${k} people. Comments are shown to survey authors only.`),
    ...trendNodes,
  );
  return nodes;
}

function npsGroupOf(answer) {
  const n = Number(answer);
  return answer === api.OTHER ? "other" : n >= 9 ? "promoters" : n >= 7 ? "passives" : "detractors";
}

/** Tenant cells largest first, `(other)` last (the server sends them by key, which means nothing to a reader). */
const byAnswers = (cells) => [...cells].sort((a, b) => (a.key === api.OTHER) - (b.key === api.OTHER) || b.answers - a.answers);

function npsTrend(trend, survey, k) {
  const points = trend.points;
  const heading = el("h3", { class: "trend-title" }, `NPS trend of the series “${trend.series}”`);
  const chart = timeChart({
    label: `Line chart of the NPS of each survey in the series ${trend.series}, from ${day(points[0].starts_at)} to ${day(points.at(-1).starts_at)}, on a scale from −100 to +100. The same numbers are in the table below.`,
    x: points.map((p) => day(p.starts_at)),
    grain: "day",
    xLabel: "Opened",
    height: 240,
    yRange: [-100, 100],
    xPadDays: 20,
    leftLabel: "NPS",
    leftFormat: (v) => signed(v, 0),
    series: [{ label: "NPS", values: points.map((p) => p.nps), color: "#1f5fa8", format: (v) => signed(v), labels: true }],
  });
  const rows = table(
    `NPS of each survey in “${trend.series}”, oldest first`,
    [
      { label: "Survey", cell: (p) => (p.id === survey.id ? el("strong", {}, `${p.title} (shown above)`) : p.title) },
      { label: "Opened", cell: (p) => day(p.starts_at) },
      { label: "Answers", numeric: true, cell: (p) => (p.answers === 0 ? `<${k}` : fmt.int(p.answers)) },
      // An NPS is also withheld when one of its groups had fewer than k people (it would give that count away).
      { label: "NPS", numeric: true, cell: (p) => (p.nps !== null ? signed(p.nps) : p.answers === 0 ? `– (fewer than ${k} answers)` : `– (withheld: a group under ${k})`) },
    ],
    points,
    { className: "data trend-table" },
  );
  const missing = points.filter((p) => p.nps === null).length;
  const note = missing ? legendNote(`${missing === 1 ? "One survey" : `${missing} surveys`} of this series had fewer than ${k} answers (or an NPS group under ${k}) and ${missing === 1 ? "has" : "have"} no point on the chart (k rule).`) : null;
  return [heading, chart, note, rows].filter(Boolean);
}

export const surveys = {
  id: "surveys",
  title: "Surveys",
  async load(filters, signal) {
    return { filters, report: await api.surveys(signal) };
  },
  render({ report }, context) {
    const list = report.surveys;
    if (!list.length) return { nodes: [empty("No survey has been published yet. Authors create surveys under /api/authoring/items.")], downloads: [] };
    const chosen = list.find((s) => s.id === context.survey) || list[0];
    const picker = el("select", { id: "s-survey", name: "survey" }, list.map((s) => el("option", { value: s.id }, surveyOption(s))));
    picker.value = chosen.id;
    const detail = el("div", { class: "survey-detail" }, surveyDetail(report, chosen, context.tenants));
    let current = chosen;
    picker.addEventListener("change", () => {
      current = list.find((s) => s.id === picker.value);
      context.selectSurvey(current.id);
      disposeCharts(detail);
      detail.replaceChildren(...surveyDetail(report, current, context.tenants));
    });
    const pick = el("div", { class: "filters survey-picker" }, el("div", { class: "field wide" }, el("label", { for: "s-survey" }, `Survey (${list.length})`), picker));
    const nameOf = (key, kind) => cellName(key, kind, context.tenants);
    const downloads = [{ label: "Download CSV: this survey", url: report.url, get name() { return `survey-${day(current.starts_at)}`; }, csv: () => api.surveyCsv(report, current, nameOf) }];
    return { nodes: [pick, detail], downloads };
  },
};

export const VIEWS = [activeUsers, adoption, retention, onboarding, launch, surveys];
export { userTypeLabel };
