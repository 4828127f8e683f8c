// The six report views. Each `load` fetches through api.js; each `render` builds DOM from the
// result (text only) and returns the CSV downloads it offers.
import * as api from "./api.js";
import { disposeCharts, legendNote, timeChart } from "./charts.js";
import { bar, change, el, figure, fmt, sparkline, svg, table, tenantLabel, userTypeLabel } from "./dom.js";

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
    const total = days.filter((d) => d.period >= start && d.period <= end).reduce((sum, d) => sum + (d.active_users ?? 0), 0);
    const avgDau = span > 0 ? total / span : 0;
    return { period: month.period, avg_dau: avgDau, mau: month.active_users, ratio: month.active_users ? avgDau / month.active_users : null };
  });
}

/** Markers within [from, to] as chart markers, and a text list of them under the chart. */
export function markersIn(context, from, to) {
  const list = (context?.markers || []).filter((m) => m.date >= from && m.date <= to);
  const lines = list.map((m) => ({ date: m.date, label: m.text.length > 28 ? `${m.text.slice(0, 27)}…` : m.text }));
  const note = list.length
    ? el("p", { class: "chart-note markers-note" }, `Launch markers: ${list.map((m) => `${m.date} ${m.text}${m.feature ? ` (${m.feature}${m.app ? ` · ${m.app}` : ""})` : ""}`).join("; ")}.`)
    : null;
  return { lines, note };
}

/** The mean of the shown values, and how many were left out as hidden. */
export function meanShown(rows, field) {
  const shown = rows.filter((r) => !r.inProgress && !api.isHidden(r, field));
  const hidden = rows.filter((r) => !r.inProgress && api.isHidden(r, field)).length;
  return { mean: shown.length ? shown.reduce((s, r) => s + r[field], 0) / shown.length : null, hidden, n: shown.length };
}

const sumShown = (rows, field) => {
  const shown = rows.filter((r) => !r.inProgress && !api.isHidden(r, field));
  return shown.length ? shown.reduce((s, r) => s + r[field], 0) : null;
};

/** The last closed, shown row, and the closed row before it (for "change vs previous"). */
function lastTwo(rows, field) {
  const closed = rows.filter((r) => !r.inProgress);
  const last = closed.at(-1);
  const before = closed.at(-2);
  return { last, before, value: api.isHidden(last, field) ? null : last?.[field] ?? null, previous: api.isHidden(before, field) ? null : before?.[field] ?? null };
}

const hiddenNote = (n, what) => (n ? ` · ${n} hidden ${what}${n === 1 ? "" : "s"} left out` : "");

/** The previous period of equal length right before [from, to]. */
export function previousRange(filters) {
  const span = api.daysBetween(filters.from, filters.to) + 1;
  return { ...filters, from: api.addDays(filters.from, -span), to: api.addDays(filters.from, -1), span };
}

export const activeUsers = {
  id: "active",
  title: "Active users",
  async load(filters, signal, context) {
    const previous = previousRange(filters);
    const grains = ["day", "week", "month"];
    const [day, week, month, prevDay, prevGrain, cover] = await Promise.all([
      ...grains.map((g) => api.activeUsers(filters, g, signal)),
      api.activeUsers(previous, "day", signal),
      filters.grain === "day" ? null : api.activeUsers(previous, filters.grain, signal),
      api.coverage(signal).catch(() => null),
    ]);
    return { filters, day, week, month, previous: { day: prevDay, grain: prevGrain || prevDay, span: previous.span, from: previous.from, to: previous.to }, coverage: cover, k: day.k, compare: context?.compare === true };
  },
  render(data, context) {
    const { filters } = data;
    const grain = filters.grain;
    const current = data[grain];
    const downloads = ["day", "week", "month"].map((g) => ({ label: `Download CSV: per ${g}`, url: data[g].url, name: `active-users-${g}` }));
    downloads.push({ label: "Download CSV: previous period (days)", url: data.previous.day.url, name: "active-users-previous" });
    if (!current.rows.length) return { nodes: [empty(NO_DATA)], downloads };
    const sticky = stickiness(data.day.rows, data.month.rows.filter((r) => !r.inProgress && !r.hidden), filters.from, filters.to);
    const dau = meanShown(data.day.rows, "active_users");
    const prevDau = meanShown(data.previous.day.rows, "active_users");
    const wau = lastTwo(data.week.rows, "active_users");
    const mau = lastTwo(data.month.rows, "active_users");
    const lastSticky = sticky.at(-1);
    const prevSticky = sticky.at(-2);
    const sessions = sumShown(data.day.rows, "sessions");
    const events = sumShown(data.day.rows, "events");
    const vsPrevious = `vs the previous ${data.previous.span} days`;
    const kpis = el(
      "dl",
      { class: "kpis" },
      kpi("Average daily active users", dau.mean === null ? "hidden" : fmt.int(dau.mean), `${change(prevDau.mean, dau.mean)} ${vsPrevious}${hiddenNote(dau.hidden, "day")}`),
      kpi("Weekly active users", wau.last ? figure(wau.last, "active_users") : "–", wau.last ? `week ${wau.last.period}: ${change(wau.previous, wau.value)} vs the week before` : ""),
      kpi("Monthly active users", mau.last ? figure(mau.last, "active_users") : "–", mau.last ? `month ${mau.last.period}: ${change(mau.previous, mau.value)} vs the month before` : ""),
      kpi("Stickiness (DAU ÷ MAU)", lastSticky ? fmt.pct(lastSticky.ratio) : "–", lastSticky ? `month ${lastSticky.period}${prevSticky ? `: ${fmt.change(prevSticky.ratio, lastSticky.ratio)} vs the month before` : ""}` : ""),
      kpi("Sessions", sessions === null ? "hidden" : fmt.int(sessions), `${change(sumShown(data.previous.day.rows, "sessions"), sessions)} ${vsPrevious}`),
      kpi("Events", events === null ? "hidden" : fmt.int(events), `${change(sumShown(data.previous.day.rows, "events"), events)} ${vsPrevious}`),
    );
    const cover = data.coverage?.rows?.find((r) => r.tenant === api.ALL);
    const coverage = el(
      "p",
      { class: "note coverage-note" },
      "Every figure counts people who consented to usage analytics: ",
      cover
        ? cover.asked === null
          ? "how many were asked is hidden (fewer than k people)."
          : `${figure(cover, "granted")} of ${fmt.int(cover.asked)} people asked said yes${cover.granted_share !== null ? ` (${fmt.pct(cover.granted_share)})` : ""}, ${figure(cover, "declined")} said no${data.filters.tenant && !data.coverage.per_tenant ? " (all tenants; coverage per tenant is not available yet)" : ""}.`
        : "consent coverage could not be loaded.",
    );
    const rows = current.rows;
    const x = rows.map((r) => api.periodStart(r.period));
    const shown = (r, f) => (r.inProgress || api.isHidden(r, f) ? null : r[f]);
    const previousRows = data.previous.grain.rows;
    const shiftDays = data.previous.span;
    const prevBy = new Map(previousRows.map((r) => [r.period, r]));
    const prevValue = (r) => {
      const start = api.addDays(api.periodStart(r.period), -shiftDays);
      const row = prevBy.get(api.periodOf(grain, start));
      return row && !api.isHidden(row, "active_users") && !row.inProgress ? row.active_users : null;
    };
    const marks = markersIn(context, filters.from, filters.to);
    const chart = timeChart({
      label: `Line chart of active users, sessions and events per ${grain} from ${filters.from} to ${filters.to}${data.compare ? ", with the previous period's active users" : ""}. Hidden periods and the period in progress are marked, not drawn as 0. The same numbers are in the table "Active users per ${grain}" below.`,
      x,
      grain,
      leftLabel: "Active users · sessions",
      rightLabel: "Events",
      markers: marks.lines,
      gaps: rows.filter((r) => r.hidden && !r.inProgress).map((r) => api.periodStart(r.period)),
      progress: rows.filter((r) => r.inProgress).map((r) => api.periodStart(r.period)),
      series: [
        { label: "Active users", values: rows.map((r) => shown(r, "active_users")), color: "#1f5fa8" },
        { label: "Sessions", values: rows.map((r) => shown(r, "sessions")), color: "#2e7d32", dash: [6, 4] },
        { label: "Events", values: rows.map((r) => shown(r, "events")), color: "#b34700", axis: "right", dash: [2, 3] },
        ...(data.compare ? [{ label: "Active users, previous period", values: rows.map(prevValue), color: "#7a8594", dash: [2, 2] }] : []),
      ],
    });
    const toggle = el("input", { type: "checkbox", id: "a-compare", class: "compare-toggle" });
    toggle.checked = data.compare;
    toggle.addEventListener("change", () => context?.setCompare?.(toggle.checked));
    const compareField = el("p", { class: "compare" }, toggle, el("label", { for: "a-compare" }, ` Overlay the previous ${shiftDays} days (${data.previous.from} to ${data.previous.to})`));
    const state = (r) => (r.inProgress ? "in progress" : r.hidden ? "hidden" : "");
    const perGrain = table(`Active users per ${grain}`, [
      { label: GRAIN_NAMES[grain][0].toUpperCase() + GRAIN_NAMES[grain].slice(1), cell: (r) => periodLabel(r.period) },
      { label: "Active users", numeric: true, cell: (r) => (r.inProgress ? "in progress" : figure(r, "active_users")) },
      { label: "Sessions", numeric: true, cell: (r) => (r.inProgress ? "in progress" : figure(r, "sessions")) },
      { label: "Events", numeric: true, cell: (r) => (r.inProgress ? "in progress" : figure(r, "events")) },
      { label: "Events per user", numeric: true, cell: (r) => (r.inProgress || r.hidden || !r.active_users ? "–" : (r.events / r.active_users).toFixed(1)) },
      { label: "Change in active users", numeric: true, cell: (r) => {
        const i = rows.indexOf(r);
        return i === 0 || r.inProgress ? "–" : change(shown(rows[i - 1], "active_users"), shown(r, "active_users"));
      } },
    ], rows, { className: "data active-table", rowClass: state });
    const stickyTable = table("Stickiness per month: average daily active users ÷ monthly active users", [
      { label: "Month", cell: (r) => r.period },
      { label: "Average DAU", numeric: true, cell: (r) => fmt.int(r.avg_dau) },
      { label: "MAU", numeric: true, cell: (r) => fmt.int(r.mau) },
      { label: "DAU ÷ MAU", numeric: true, cell: (r) => fmt.pct(r.ratio) },
    ], sticky, { className: "data sticky-table" });
    const hiddenCount = rows.filter((r) => r.hidden && !r.inProgress).length;
    const honesty = el("p", { class: "note" }, `${hiddenCount ? `${hiddenCount} ${grain}${hiddenCount === 1 ? " is" : "s are"} hidden (fewer than ${data.k} people, or none): marked on the chart and in the table, never drawn as 0, and left out of averages. ` : ""}${rows.some((r) => r.inProgress) ? `The current ${grain} is in progress and is built once it closes.` : ""}`);
    return {
      nodes: [kpis, coverage, compareField, chart, marks.note, honesty, el("div", { class: "tables" }, details(`Table: active users per ${grain} (${rows.length} rows)`, perGrain, rows.length <= 20), stickyTable)].filter(Boolean),
      downloads,
    };
  },
};

// ---- Feature adoption -------------------------------------------------------------------------

const featureKey = (r) => `${r.app}::${r.feature}`; // app ids never contain ":"
const splitKey = (key) => [key.slice(0, key.indexOf("::")), key.slice(key.indexOf("::") + 2)];
export const featureGrain = (grain) => (grain === "month" ? "month" : "week");

export const FEATURE_SORTS = {
  users: { label: "users", compare: (a, b) => (b.users ?? -1) - (a.users ?? -1) },
  growth: { label: "growth", compare: (a, b) => (b.growth ?? -Infinity) - (a.growth ?? -Infinity) },
  share: { label: "share", compare: (a, b) => (b.share ?? -1) - (a.share ?? -1) },
};

/** Each feature of the rows with its latest period, the change against the period before, a series. */
export function featureList(rows) {
  const periods = [...new Set(rows.map((r) => r.period))].sort();
  const latest = periods.at(-1);
  const previous = periods.at(-2);
  const byFeature = new Map();
  for (const r of rows) {
    const key = featureKey(r);
    if (!byFeature.has(key)) byFeature.set(key, { app: r.app, feature: r.feature, perPeriod: new Map(), events: 0 });
    const f = byFeature.get(key);
    f.perPeriod.set(r.period, r);
    f.events += r.events ?? 0;
  }
  const list = [...byFeature.values()].map((f) => {
    const last = f.perPeriod.get(latest);
    const before = previous ? f.perPeriod.get(previous) : undefined;
    const users = last && !last.hidden ? last.users : null;
    const prior = before && !before.hidden ? before.users : null;
    const isOther = f.feature === api.OTHER;
    return {
      ...f,
      row: last || { hidden: true },
      users: isOther ? null : users,
      hidden: !isOther && (!last || last.hidden),
      previousUsers: prior,
      growth: users !== null && prior !== null && !isOther ? users - prior : null,
      // the folded row's people are not known (only its events): no share, not "0 %"
      share: isOther || !last || last.hidden ? null : last.share,
      lastEvents: last ? last.events : null,
      series: periods.map((p) => {
        const r = f.perPeriod.get(p);
        return r && !r.hidden ? r.users : null;
      }),
    };
  });
  return { periods, latest, previous, list };
}

export const adoption = {
  id: "adoption",
  title: "Feature adoption",
  async load(filters, signal, context) {
    const grain = featureGrain(filters.grain);
    return { filters, grain, features: await api.features(filters, grain, signal), sort: context?.featureSort || "users" };
  },
  render({ filters, grain, features, sort }, context) {
    const downloads = [{ label: `Download CSV: features per ${grain}`, url: features.url, name: `features-${grain}` }];
    const rows = features.rows;
    if (!rows.length) return { nodes: [empty(NO_DATA)], downloads };
    const { periods, latest, previous, list } = featureList(rows);
    const folded = (f) => f.feature === "(other)" || f.app === "(other)";
    const order = FEATURE_SORTS[sort] || FEATURE_SORTS.users;
    list.sort((a, b) => folded(a) - folded(b) || order.compare(a, b) || (b.lastEvents ?? 0) - (a.lastEvents ?? 0) || a.feature.localeCompare(b.feature));
    const maxUsers = Math.max(1, ...list.map((f) => f.users ?? 0));
    const note = grain !== filters.grain ? el("p", { class: "note" }, "Feature adoption is reported per week or month; the day grain shows weeks.") : null;
    const sorter = el("select", { id: "a-sort", name: "sort" }, Object.entries(FEATURE_SORTS).map(([id, s]) => el("option", { value: id }, `Sort by ${s.label}`)));
    sorter.value = order === FEATURE_SORTS[sort] ? sort : "users";
    sorter.addEventListener("change", () => context?.setFeatureSort?.(sorter.value));
    const controls = el("div", { class: "filters table-controls" }, el("div", { class: "field" }, el("label", { for: "a-sort" }, "Order of the features"), sorter));
    const adoptionTable = table(
      `Features in ${latest} (latest ${grain} in range), sorted by ${order.label}, with the change against ${previous || "the period before"} and users per ${grain} from ${periods[0]} to ${latest}`,
      [
        { label: "Feature", cell: (f) => (folded(f) ? "(other) — features used by fewer than k people, folded" : f.feature) },
        { label: "App", cell: (f) => f.app },
        { label: `Users in ${latest}`, numeric: true, cell: (f) => (folded(f) ? "–" : el("span", { class: "with-bar" }, bar((f.users ?? 0) / maxUsers), el("span", { class: "val" }, figure(f.row, "users")))) },
        { label: `Change vs ${previous || "before"}`, numeric: true, cell: (f) => (folded(f) ? "–" : change(f.previousUsers, f.users)) },
        { label: "Share of active users", numeric: true, cell: (f) => (f.hidden ? "hidden" : el("span", { class: "with-bar" }, bar(f.share, "bar share"), el("span", { class: "val" }, fmt.pct(f.share)))) },
        { label: `Events in ${latest}`, numeric: true, cell: (f) => (f.lastEvents === null || f.lastEvents === undefined ? "hidden" : figure(f.row, "events")) },
        { label: "Events, whole range", numeric: true, cell: (f) => fmt.int(f.events) },
        {
          label: `Users per ${grain}`,
          cell: (f) => sparkline(f.series, `Users per ${grain} of ${f.feature}: ${f.series.map((v) => (v === null ? "hidden" : fmt.int(v))).join(", ")}`),
        },
      ],
      list,
      { className: "data adoption-table" },
    );
    return { nodes: [note, controls, adoptionTable].filter(Boolean), downloads };
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
        el("td", { class: "num users" }, figure(row, "users")),
        weeks.map((w) => {
          const unknown = row.weeksElapsed !== null ? w > row.weeksElapsed : api.addDays(start, 7 * w) > thisWeek;
          if (unknown) return el("td", { class: "heat future" }, el("span", { class: "visually-hidden" }, "not yet reached"), el("span", { "aria-hidden": "true" }, "·"));
          const count = row.active[w - 1];
          if (count === null || count === undefined) {
            return el("td", { class: "heat heat-0 under-k" }, el("span", { class: "pct" }, "hidden"), el("span", { class: "visually-hidden" }, ` (fewer than ${data.k} people, or none)`));
          }
          if (row.users === null || row.users === undefined) {
            return el("td", { class: "heat heat-0" }, el("span", { class: "pct" }, "–"), el("span", { class: "count" }, fmt.int(count)));
          }
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
      el("span", { class: "legend-note" }, `“hidden”: too few people to show (after noise) · “·”: week not over yet`),
    );
    return { nodes: [legend, el("div", { class: "scroll" }, heat)], downloads };
  },
};

// ---- Tenant onboarding -------------------------------------------------------------------------

/** The onboarding rows with the running count of features adopted so far. */
export function onboardingWeeks(rows) {
  let adopted = 0;
  return rows.map((row) => {
    adopted += (row.new_features || []).length;
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
  render({ tenant, picked, data }, context) {
    if (!tenant) return { nodes: [empty("No tenant has sent events yet.")], downloads: [] };
    if (!data) return { nodes: [empty(`${tenantLabel(tenant)} has no events yet.`)], downloads: [] };
    const downloads = [{ label: "Download CSV: weeks since the first event", url: data.url, name: "onboarding" }];
    // the current week is built when it closes: until then the server sends it as zeros
    const open = api.isoWeek(api.today());
    // exactly the weeks asked for (the server may send one more when first_seen is not a Monday)
    const weeks = onboardingWeeks(data.rows.slice(0, data.weeks).filter((r) => r.week < open));
    const closed = weeks.length < data.rows.length ? " (this week is added once it closes)" : "";
    const intro = el(
      "p",
      { class: "lead" },
      el("strong", {}, tenantLabel(tenant)),
      ` — first event on ${tenant.first_seen}; ${weeks.length === 1 ? "its first week" : `its first ${weeks.length} weeks`}${closed}.`,
      picked ? " Showing the newest tenant; pick another in the Tenant filter." : "",
    );
    if (!weeks.length) return { nodes: [intro, empty(NO_DATA)], downloads };
    const onboardingMarks = markersIn(context, api.weekStart(weeks[0].week), api.addDays(api.weekStart(weeks.at(-1).week), 6));
    const chart = timeChart({
      label: `Chart of ${tenantLabel(tenant)}'s weekly active users and the number of features adopted so far, since its first event. The same numbers are in the table below.`,
      x: weeks.map((w) => api.weekStart(w.week)),
      grain: "week",
      markers: onboardingMarks.lines,
      leftLabel: "Active users",
      rightLabel: "Features adopted",
      series: [
        { label: "Active users", values: weeks.map((w) => (api.isHidden(w, "active_users") ? null : w.active_users)), color: "#1f5fa8" },
        { label: "Features adopted (cumulative)", values: weeks.map((w) => w.cumulative), color: "#6a3d9a", axis: "right", dash: [6, 4] },
      ],
    });
    const weekTable = table(`${tenantLabel(tenant)}: week by week since its first event`, [
      { label: "Week", cell: (w) => w.week },
      { label: "Week no.", numeric: true, cell: (w) => String(1 + Math.round(api.daysBetween(api.mondayOf(tenant.first_seen), api.weekStart(w.week)) / 7)) },
      { label: "Active users", numeric: true, cell: (w) => figure(w, "active_users") },
      { label: "Sessions", numeric: true, cell: (w) => figure(w, "sessions") },
      { label: "Events", numeric: true, cell: (w) => figure(w, "events") },
      { label: "Features used", numeric: true, cell: (w) => figure(w, "features_adopted") },
      { label: "Adopted so far", numeric: true, cell: (w) => fmt.int(w.cumulative) },
      { label: "First used this week", cell: (w) => (w.new_features.length ? w.new_features.join(", ") : "—"), className: () => "wrap" },
    ], weeks, { className: "data onboarding-table" });
    return { nodes: [intro, chart, onboardingMarks.note, weekTable].filter(Boolean), downloads };
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

/** Mean of the shown weekly users before and after the launch week (the launch week apart). */
export function beforeAfter(rows, launchWeek) {
  const pick = (list) => {
    const shown = list.filter((r) => !r.hidden && r.users !== null && r.users !== undefined);
    return { mean: shown.length ? shown.reduce((s, r) => s + r.users, 0) / shown.length : null, hidden: list.length - shown.length };
  };
  return { before: pick(rows.filter((r) => r.period < launchWeek)), after: pick(rows.filter((r) => r.period > launchWeek)) };
}

/** Every feature of the window ranked by the change of its mean weekly users, before → after. */
export function rankFeatures(rows, launchWeek) {
  const keys = [...new Set(rows.filter((r) => r.feature !== api.OTHER).map(featureKey))];
  return keys
    .map((key) => {
      const [app, feature] = splitKey(key);
      const { before, after } = beforeAfter(rows.filter((r) => featureKey(r) === key), launchWeek);
      // no week shown before the launch: a new feature (or one under k before it), ranked by its weeks after
      const isNew = before.mean === null && after.mean !== null;
      return { key, app, feature, before, after, isNew, diff: after.mean === null ? null : after.mean - (before.mean ?? 0) };
    })
    .sort((a, b) => (b.diff ?? -Infinity) - (a.diff ?? -Infinity) || (b.after.mean ?? 0) - (a.after.mean ?? 0) || a.key.localeCompare(b.key));
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
    const marker = context.launch.marker;
    const source = el(
      "p",
      { class: "note launch-source" },
      marker ? `Launch date from the latest launch marker: ${marker.date} “${marker.text}”. Pick another date to compare around it.` : "No launch marker is recorded; the launch date is the middle of the date range. Operators and authors record markers with POST /api/markers.",
    );
    if (!key) return { nodes: [source, empty(NO_DATA)], downloads };
    if (key !== context.launch.feature) context.selectFeature(key);
    downloads.unshift({ label: "Download CSV: this feature per week", url: result.url, name: "launch" });
    const [app, feature] = splitKey(key);
    const rows = result.rows.map((r) => ({ ...r, phase: r.offset === 0 ? "launch" : r.phase, hidden: r.hidden === true || r.users === null || r.users === undefined }));
    const pick = (phase) => {
      const list = rows.filter((r) => r.phase === phase);
      const shown = list.filter((r) => !r.hidden);
      const mean = (f) => (shown.length && shown.every((r) => r[f] !== null) ? shown.reduce((s, r) => s + r[f], 0) / shown.length : null);
      return { users: mean("users"), share: mean("share"), events: shown.length ? shown.reduce((s, r) => s + (r.events ?? 0), 0) : null, hidden: list.length - shown.length, n: list.length };
    };
    const before = pick("before");
    const after = pick("after");
    const launchRow = rows.find((r) => r.phase === "launch");
    const left = (p) => (p.hidden ? ` · ${p.hidden} hidden week${p.hidden === 1 ? "" : "s"} left out` : "");
    const summary = el(
      "dl",
      { class: "kpis" },
      kpi("Weekly users before", before.users === null ? "hidden" : fmt.int(before.users), `average of ${before.n - before.hidden} weeks${left(before)}`),
      kpi("Launch week", launchRow ? figure(launchRow, "users") : "–", `${w.launchWeek}, shown apart (neither before nor after)`),
      kpi("Weekly users after", after.users === null ? "hidden" : fmt.int(after.users), `${change(before.users, after.users)} vs before${left(after)}`),
      kpi("Share before", fmt.pct(before.share), "of active users"),
      kpi("Share after", fmt.pct(after.share), `${fmt.change(before.share, after.share)} vs before`),
      kpi("Events before → after", `${before.events === null ? "hidden" : fmt.int(before.events)} → ${after.events === null ? "hidden" : fmt.int(after.events)}`, fmt.change(before.events, after.events)),
    );
    const marks = markersIn(context, api.weekStart(rows[0]?.week || w.launchWeek), api.addDays(api.weekStart(rows.at(-1)?.week || w.launchWeek), 6));
    const chart = timeChart({
      label: `Bar chart of weekly users of ${feature} (${app}) ${weeks} weeks before and after the launch week ${w.launchWeek}, which is shown apart, with its share of active users. Hidden weeks are marked, not drawn as 0. The same numbers are in the table below.`,
      x: rows.map((r) => api.weekStart(r.week)),
      grain: "week",
      marker: { date: w.launch, label: `Launch ${w.launch}` },
      markers: marks.lines.filter((m) => m.date !== w.launch),
      gaps: rows.filter((r) => r.hidden).map((r) => api.weekStart(r.week)),
      leftLabel: "Users per week",
      rightLabel: "Share of active users",
      rightFormat: fmt.pct,
      series: [
        { label: "Users before launch", values: rows.map((r) => (r.phase === "before" && !r.hidden ? r.users : null)), color: "#7a8594", kind: "bars" },
        { label: "Users in the launch week", values: rows.map((r) => (r.phase === "launch" && !r.hidden ? r.users : null)), color: "#6a3d9a", kind: "bars" },
        { label: "Users after launch", values: rows.map((r) => (r.phase === "after" && !r.hidden ? r.users : null)), color: "#1f5fa8", kind: "bars" },
        { label: "Share of active users", values: rows.map((r) => (r.hidden ? null : r.share)), color: "#b34700", axis: "right", format: fmt.pct },
      ],
    });
    const weekTable = table(`${feature} (${app}) per week, launch week ${w.launchWeek} (from ${w.launch}) shown apart`, [
      { label: "Week", cell: (r) => r.week },
      { label: "Relative to launch", cell: (r) => (r.offset === 0 ? "launch week" : r.offset < 0 ? `${-r.offset} wk before` : `${r.offset} wk after`), className: (r) => r.phase },
      { label: "Users", numeric: true, cell: (r) => figure(r, "users") },
      { label: "Share of active users", numeric: true, cell: (r) => (r.hidden ? "hidden" : fmt.pct(r.share)) },
      { label: "Events", numeric: true, cell: (r) => figure(r, "events") },
    ], rows, { className: "data launch-table" });
    const ranked = rankFeatures(candidates.rows, w.launchWeek);
    const rankTable = table(
      `Every feature ranked by the change of its mean weekly users, ${weeks} weeks before vs after the launch week ${w.launchWeek} (the launch week and hidden weeks left out)`,
      [
        { label: "Rank", numeric: true, cell: (r) => String(ranked.indexOf(r) + 1) },
        { label: "Feature", cell: (r) => r.feature },
        { label: "App", cell: (r) => r.app },
        { label: "Weekly users before", numeric: true, cell: (r) => (r.before.mean === null ? "none shown" : fmt.int(r.before.mean)) },
        { label: "Weekly users after", numeric: true, cell: (r) => (r.after.mean === null ? "none shown" : fmt.int(r.after.mean)) },
        { label: "Change", numeric: true, cell: (r) => (r.isNew ? "new" : change(r.before.mean, r.after.mean)) },
      ],
      ranked,
      { className: "data rank-table", rowHeader: 1 },
    );
    return { nodes: [source, summary, chart, marks.note, weekTable, details(`Table: every feature ranked by before → after change (${ranked.length})`, rankTable, true)].filter(Boolean), downloads };
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

function surveyDetail(report, survey, tenants, context) {
  const k = report.k;
  const head = el(
    "div",
    { class: "survey-head" },
    el("h3", { class: "survey-title" }, survey.title),
    el("p", { class: "survey-question" }, `“${survey.question.text}”`),
    el(
      "p",
      { class: "survey-meta" },
      // "Live" only inside the window (the API's `live`); a published survey whose window ended is "Ended"
      el("span", { class: `badge status-${survey.live ? "published" : survey.status}` }, survey.live ? "Live" : survey.status === "published" ? (new Date(survey.ends_at) <= new Date() ? "Ended" : "Scheduled") : survey.status === "archived" ? "Archived" : "Draft"),
      ` ${QUESTION_TYPES[survey.question.type]} · open ${day(survey.starts_at)} → ${day(survey.ends_at)}${survey.series ? ` · series “${survey.series}”` : ""}`,
      // Results are a snapshot (at most 4 per survey, at scheduled times), never live.
      survey.as_of ? ` · results as of ${survey.as_of.slice(0, 16).replace("T", " ")} UTC` : "",
    ),
  );
  const trend = api.trendOf(report, survey);
  const trendNodes = trend ? npsTrend(trend, survey, k, context) : [];
  if (survey.suppressed) {
    const when = survey.renewable_at ? ` The next snapshot is taken from ${survey.renewable_at.slice(0, 16).replace("T", " ")} UTC.` : "";
    const text = !survey.as_of && survey.renewable_at
      ? `No results yet: a survey's results are released in scheduled snapshots.${when}`
      : `Fewer than ${k} people have answered this survey, or too few for its released figures to clear the threshold, so no results are shown.${when}`;
    return [head, el("p", { class: "empty suppressed" }, text), ...trendNodes];
  }
  const total = survey.answers;
  // Survey results are differentially private releases: a hidden figure is null (never
  // 0) and every figure may carry its 95 % margin of error (`*_moe`).
  const pm = (moe) => (moe ? ` ± ${Number.isInteger(moe) ? fmt.int(moe) : moe.toLocaleString(navigator.language || "en-GB")}` : "");
  const kpis = [kpi("Answers", `${fmt.int(total)}${pm(survey.answers_moe)}`, "people who answered")];
  if (survey.question.type === "nps") {
    kpis.push(kpi("NPS", `${signed(survey.nps)}${survey.nps === null ? "" : pm(survey.nps_moe)}`, survey.nps === null ? `withheld: a group has fewer than ${k} people (k rule)` : "% promoters − % detractors"));
    for (const g of [...api.NPS_GROUPS, api.OTHER]) {
      if (survey.nps_groups[g] === null) kpis.push(kpi(GROUP_LABELS[g], "hidden", "under the release threshold"));
      else if (survey.nps_groups[g]) kpis.push(kpi(GROUP_LABELS[g], fmt.pct(survey.nps_groups[g] / total), `${fmt.int(survey.nps_groups[g])}${pm(survey.nps_groups_moe?.[g])} people`));
    }
  } else if (survey.question.type === "rating") {
    kpis.push(kpi("Average rating", `${rating(survey.mean)}${survey.mean === null ? "" : pm(survey.mean_moe)}`, survey.mean === null ? `withheld: a rating has fewer than ${k} people (k rule)` : "out of 5"));
  } else {
    const top = api.answerBuckets(survey).filter((b) => b.answer !== api.OTHER && b.people !== null).sort((a, b) => b.people - a.people)[0];
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
      { label: "People", numeric: true, cell: (b) => (b.people === null ? "hidden" : el("span", { class: "with-bar" }, bar(b.people / most, `bar answer-bar${survey.question.type === "nps" ? ` nps-${npsGroupOf(b.answer)}` : ""}`), el("span", { class: "val" }, `${fmt.int(b.people)}${pm(survey.distribution_moe)}`))) },
      { label: "Share of answers", numeric: true, cell: (b) => (b.people === null ? "–" : fmt.pct(b.people / total)) },
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
        { label: "Answers", numeric: true, cell: (c) => (c.answers === null ? "hidden" : `${fmt.int(c.answers)}${pm(c.moe)}`) },
        ...(measure ? [{ label: measure, numeric: true, cell: (c) => (survey.question.type === "nps" ? `${signed(c.nps)}${c.nps === null ? "" : pm(c.nps_moe)}` : `${rating(c.mean)}${c.mean === null ? "" : pm(c.mean_moe)}`) }] : []),
      ],
      rows,
      { className: `data cells-table cells-${kind}` },
    );
  nodes.push(
    distribution,
    el("div", { class: "survey-grid" }, cells("user_type", "By user type", survey.by_user_type), cells("tenant", "By tenant", byAnswers(survey.by_tenant))),
    el("p", { class: "note" }, `Survey results are differentially private releases (at most 4 snapshots per survey): a figure under the threshold shows as “hidden” (never 0), and “±” is its 95 % margin of error. Comments are shown to survey authors only.`),
    ...trendNodes,
  );
  return nodes;
}

function npsGroupOf(answer) {
  const n = Number(answer);
  return answer === api.OTHER ? "other" : n >= 9 ? "promoters" : n >= 7 ? "passives" : "detractors";
}

/** Tenant cells largest first, `(other)` last (the server sends them by key, which means nothing to a reader). */
const byAnswers = (cells) => [...cells].sort((a, b) => (a.key === api.OTHER) - (b.key === api.OTHER) || (b.answers ?? -1) - (a.answers ?? -1));

function npsTrend(trend, survey, k, context) {
  const points = trend.points;
  const trendMarks = markersIn(context, day(points[0].starts_at), day(points.at(-1).starts_at));
  const heading = el("h3", { class: "trend-title" }, `NPS trend of the series “${trend.series}”`);
  const chart = timeChart({
    label: `Line chart of the NPS of each survey in the series ${trend.series}, from ${day(points[0].starts_at)} to ${day(points.at(-1).starts_at)}, on a scale from −100 to +100. The same numbers are in the table below.`,
    x: points.map((p) => day(p.starts_at)),
    markers: trendMarks.lines,
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
      { label: "Answers", numeric: true, cell: (p) => (p.answers === 0 ? `<${k}` : p.answers === null ? "hidden" : `${fmt.int(p.answers)}${p.answers_moe ? ` ± ${fmt.int(p.answers_moe)}` : ""}`) },
      // An NPS is also withheld when one of its groups had fewer than k people (it would give that count away).
      { label: "NPS", numeric: true, cell: (p) => (p.nps !== null ? signed(p.nps) : p.answers === 0 ? `– (fewer than ${k} answers)` : `– (withheld: a group under ${k})`) },
    ],
    points,
    { className: "data trend-table" },
  );
  const missing = points.filter((p) => p.nps === null).length;
  const note = missing ? legendNote(`${missing === 1 ? "One survey" : `${missing} surveys`} of this series had fewer than ${k} answers (or an NPS group under ${k}) and ${missing === 1 ? "has" : "have"} no point on the chart (k rule).`) : null;
  return [heading, chart, trendMarks.note, note, rows].filter(Boolean);
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
    const detail = el("div", { class: "survey-detail" }, surveyDetail(report, chosen, context.tenants, context));
    let current = chosen;
    picker.addEventListener("change", () => {
      current = list.find((s) => s.id === picker.value);
      context.selectSurvey(current.id);
      disposeCharts(detail);
      detail.replaceChildren(...surveyDetail(report, current, context.tenants, context));
    });
    const pick = el("div", { class: "filters survey-picker" }, el("div", { class: "field wide" }, el("label", { for: "s-survey" }, `Survey (${list.length})`), picker));
    const nameOf = (key, kind) => cellName(key, kind, context.tenants);
    const downloads = [{ label: "Download CSV: this survey", url: report.url, get name() { return `survey-${day(current.starts_at)}`; }, csv: () => api.surveyCsv(report, current, nameOf) }];
    return { nodes: [pick, detail], downloads };
  },
};

// ---- Tenants (the B2B view) -----------------------------------------------------------------------

export const TENANT_SORTS = {
  wau: { label: "weekly active users", compare: (a, b) => (b.wau ?? -1) - (a.wau ?? -1) },
  change: { label: "change vs the week before", compare: (a, b) => (b.wau_change ?? -Infinity) - (a.wau_change ?? -Infinity) },
  mau: { label: "monthly active users", compare: (a, b) => (b.mau ?? -1) - (a.mau ?? -1) },
  stickiness: { label: "stickiness", compare: (a, b) => (b.stickiness ?? -1) - (a.stickiness ?? -1) },
  first_seen: { label: "first seen (newest first)", compare: (a, b) => (b.first_seen || "").localeCompare(a.first_seen || "") },
  name: { label: "name", compare: (a, b) => tenantLabel(a).localeCompare(tenantLabel(b)) },
};

const hiddenIf = (flag, value, moe = null, format = fmt.int) =>
  value === null || value === undefined ? (flag ? "hidden" : "–") : moe === null || moe === undefined ? format(value) : `${format(value)} ± ${fmt.int(moe)}`;

export const tenants = {
  id: "tenants",
  title: "Tenants",
  async load(filters, signal, context) {
    const [report, cover] = await Promise.all([api.tenantTable(12, signal), api.coverage(signal).catch(() => null)]);
    return { filters, report, coverage: cover, k: report.k, sort: context?.tenantSort || "wau" };
  },
  render({ report, coverage, sort }, context) {
    const downloads = [{ label: "Download CSV: one row per tenant", url: report.url, name: "tenants" }];
    if (!report.rows.length) return { nodes: [empty("No tenant has sent events yet.")], downloads };
    const order = TENANT_SORTS[sort] || TENANT_SORTS.wau;
    const rows = [...report.rows].sort((a, b) => order.compare(a, b) || tenantLabel(a).localeCompare(tenantLabel(b)));
    const sorter = el("select", { id: "t-sort", name: "sort" }, Object.entries(TENANT_SORTS).map(([id, s]) => el("option", { value: id }, `Sort by ${s.label}`)));
    sorter.value = TENANT_SORTS[sort] ? sort : "wau";
    sorter.addEventListener("change", () => context?.setTenantSort?.(sorter.value));
    const controls = el("div", { class: "filters table-controls" }, el("div", { class: "field" }, el("label", { for: "t-sort" }, "Order of the tenants"), sorter));
    const cover = coverage?.rows?.find((r) => r.tenant === api.ALL);
    const coverageNote = el(
      "p",
      { class: "note coverage-note" },
      `Weekly and monthly active users count people who consented (of those who consented). `,
      cover && cover.asked !== null ? `Overall ${figure(cover, "granted")} of ${fmt.int(cover.asked)} people asked said yes${cover.granted_share !== null ? ` (${fmt.pct(cover.granted_share)})` : ""}. ` : "",
      report.coverage_per_tenant ? "" : "Consent coverage per tenant is not available yet (consent decisions do not record their tenant).",
    );
    const link = (r) => {
      const params = new URLSearchParams({ view: "active", tenant: r.tenant, grain: "week" });
      const onboarding = new URLSearchParams({ view: "onboarding", tenant: r.tenant });
      return el("span", { class: "tenant-links" }, el("a", { href: `#${params}`, class: "tenant-link" }, tenantLabel(r)), " ", el("a", { href: `#${onboarding}`, class: "tenant-onboarding", "aria-label": `Onboarding of ${tenantLabel(r)}` }, "onboarding"));
    };
    const tenantTable = table(
      `One row per tenant: weekly active users in ${report.week} (the last closed week) and monthly active users in ${report.month}, sorted by ${order.label}`,
      [
        { label: "Tenant", cell: link },
        { label: "First seen", cell: (r) => r.first_seen || "–" },
        { label: "Last active week", cell: (r) => r.last_active_week || "–" },
        { label: `Weekly active users (${report.week})`, numeric: true, cell: (r) => hiddenIf(r.wau_hidden, r.wau, r.wau_moe) },
        { label: "Change vs the week before", numeric: true, cell: (r) => change(r.wau_previous, r.wau) },
        { label: "Weekly active users, last 12 weeks", cell: (r) => sparkline(r.sparkline, `Weekly active users of ${tenantLabel(r)}, oldest first: ${r.sparkline.map((v) => (v === null ? "hidden" : fmt.int(v))).join(", ")}`) },
        { label: `Monthly active users (${report.month})`, numeric: true, cell: (r) => hiddenIf(r.mau_hidden, r.mau, r.mau_moe) },
        { label: "Stickiness", numeric: true, cell: (r) => (r.stickiness === null ? (r.wau_hidden ? "hidden" : "–") : fmt.pct(r.stickiness)) },
        { label: "Consent: asked / yes", numeric: true, cell: (r) => (r.consent_asked === null ? "not available" : `${fmt.int(r.consent_asked)} / ${fmt.int(r.consent_granted)}`) },
      ],
      rows,
      { className: "data tenant-table" },
    );
    return { nodes: [controls, coverageNote, el("div", { class: "scroll" }, tenantTable)], downloads };
  },
};

// ---- Funnels ---------------------------------------------------------------------------------------

export const funnels = {
  id: "funnels",
  title: "Funnels",
  async load(filters, signal, context) {
    const chosen = context?.funnel || {};
    const report = await api.funnels(filters, chosen.id || undefined, undefined, signal);
    return { filters, report, mode: chosen.mode === "session" ? "session" : "7d", k: report.k };
  },
  render({ filters, report, mode }, context) {
    const downloads = [{ label: "Download CSV: funnel steps per week", url: report.url, name: `funnel-${report.funnel}` }];
    const definition = report.funnels.find((f) => f.id === report.funnel);
    const picker = el("select", { id: "u-funnel", name: "funnel" }, report.funnels.map((f) => el("option", { value: f.id }, f.name)));
    picker.value = report.funnel;
    const modes = el("select", { id: "u-mode", name: "mode" }, el("option", { value: "7d" }, "within 7 days"), el("option", { value: "session" }, "within one session"));
    modes.value = mode;
    const choose = () => context?.setFunnel?.({ id: picker.value, mode: modes.value });
    picker.addEventListener("change", choose);
    modes.addEventListener("change", choose);
    const controls = el(
      "div",
      { class: "filters table-controls" },
      el("div", { class: "field wide" }, el("label", { for: "u-funnel" }, "Funnel"), picker),
      el("div", { class: "field" }, el("label", { for: "u-mode" }, "Steps counted"), modes),
    );
    const steps = el("ol", { class: "funnel-steps" }, definition.steps.map((label) => el("li", {}, label)));
    const rows = report.rows.filter((r) => r.mode === mode);
    if (!rows.length) return { nodes: [controls, steps, empty("No funnel week in this range yet. A week is built once it and the 7 days after it are over; weeks with fewer than k people at the first step are hidden.")], downloads };
    const weeks = [...new Set(rows.map((r) => r.week))].sort();
    const latest = weeks.at(-1);
    const latestRows = rows.filter((r) => r.week === latest);
    const first = latestRows[0];
    const most = Math.max(1, ...latestRows.map((r) => r.users ?? 0));
    const bars = table(
      `${definition.name}: people at each step in the week ${latest} (people who reached the first step that week), ${mode === "7d" ? "within 7 days" : "within one session"}`,
      [
        { label: "Step", cell: (r) => `${r.step}. ${r.label}` },
        { label: "People", numeric: true, cell: (r) => el("span", { class: "with-bar" }, bar((r.users ?? 0) / most), el("span", { class: "val" }, figure(r, "users"))) },
        { label: "Of the first step", numeric: true, cell: (r) => (r.hidden ? "hidden" : fmt.pct(r.conversion)) },
        { label: "Of the step before", numeric: true, cell: (r) => (r.step === 1 ? "–" : r.hidden ? "hidden" : fmt.pct(r.from_previous)) },
      ],
      latestRows,
      { className: "data funnel-latest" },
    );
    const lastStep = definition.steps.length;
    const conversion = weeks.map((week) => rows.find((r) => r.week === week && r.step === lastStep));
    const marks = markersIn(context, api.weekStart(weeks[0]), api.addDays(api.weekStart(latest), 6));
    const chart = timeChart({
      label: `Line chart of the share of people who reached the last step (${definition.steps.at(-1)}) of those at the first step, per week from ${weeks[0]} to ${latest}. Hidden weeks are marked, not drawn as 0. The same numbers are in the table below.`,
      x: weeks.map((w) => api.weekStart(w)),
      grain: "week",
      leftLabel: "Conversion",
      leftFormat: fmt.pct,
      yRange: [0, 1],
      markers: marks.lines,
      gaps: conversion.map((r, i) => (!r || r.hidden ? api.weekStart(weeks[i]) : null)).filter(Boolean),
      series: [{ label: `Reached “${definition.steps.at(-1)}”`, values: conversion.map((r) => (r && !r.hidden ? r.conversion : null)), color: "#1f5fa8", format: fmt.pct }],
    });
    const perWeek = table(
      `${definition.name} per week (${mode === "7d" ? "within 7 days" : "within one session"}): people at each step, and the share of the first step who reached the last`,
      [
        { label: "Week", cell: (w) => w },
        ...definition.steps.map((label, i) => ({ label: `${i + 1}. ${label}`, numeric: true, cell: (w) => figure(rows.find((r) => r.week === w && r.step === i + 1), "users") })),
        { label: "Conversion", numeric: true, cell: (w) => {
          const r = rows.find((x) => x.week === w && x.step === lastStep);
          return !r || r.hidden ? "hidden" : fmt.pct(r.conversion);
        } },
      ],
      weeks,
      { className: "data funnel-table" },
    );
    const note = el("p", { class: "note" }, `A week counts the people who reached the first step in it, then whether they went on in order ${mode === "7d" ? "within 7 days" : "in the same session"}. Counts of fewer than ${report.k} people, and drops between steps of fewer than ${report.k}, are hidden (and the steps after them): shown as “hidden”, never 0. ${filters.app ? "" : ""}`);
    return { nodes: [controls, steps, first ? bars : null, chart, marks.note, note, perWeek].filter(Boolean), downloads };
  },
};

export const VIEWS = [activeUsers, adoption, retention, onboarding, launch, tenants, funnels, surveys];
export const APP_VIEWS = ["adoption", "launch"];
export { userTypeLabel };
