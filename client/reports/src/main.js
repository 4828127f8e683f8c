// The report page: filters → the active view's requests → DOM. State lives in the URL fragment
// (never sent to a server) so a view can be bookmarked and shared.
import "./reports.css";
import * as api from "./api.js";
import { disposeCharts } from "./charts.js";
import { clear, el, tenantLabel } from "./dom.js";
import { APP_VIEWS, VIEWS } from "./views.js";

const $ = (selector, root = document) => root.querySelector(selector);
const form = $("#filters");
const launchForm = $("#launch-form");

const context = {
  tenants: [],
  apps: new Set(),
  launch: { feature: "", date: "", weeks: 4 },
  setFeatureOptions(options) {
    const select = $("#l-feature");
    const current = select.value;
    select.replaceChildren(el("option", { value: "" }, "Suggested: largest change"), ...options.map((o) => el("option", { value: o.value }, o.label)));
    select.value = options.some((o) => o.value === current) ? current : "";
  },
  survey: "",
  selectSurvey(id) {
    context.survey = id;
    writeHash();
  },
  selectFeature(key) {
    context.launch.feature = key;
    $("#l-feature").value = key;
    writeHash();
  },
  markers: [],
  compare: false,
  featureSort: "users",
  tenantSort: "wau",
  funnel: { id: "", mode: "7d" },
  setCompare(on) {
    context.compare = on;
    writeHash();
    load("active");
  },
  setFeatureSort(sort) {
    context.featureSort = sort;
    writeHash();
    load("adoption");
  },
  setTenantSort(sort) {
    context.tenantSort = sort;
    writeHash();
    load("tenants");
  },
  setFunnel(choice) {
    context.funnel = choice;
    writeHash();
    load("funnels");
  },
};

// ---- state ------------------------------------------------------------------------------------

function defaults() {
  const to = api.addDays(api.today(), -1); // aggregates are built the night after
  return { from: api.addDays(to, -89), to, tenant: "", user_type: "", app: "", grain: "day", view: "active", survey: "", sort: "" };
}

let filters = defaults();
let view = "active";

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const base = defaults();
  const pick = (name, valid) => {
    const value = params.get(name);
    return value !== null && valid(value) ? value : base[name];
  };
  const isDate = (v) => /^\d{4}-\d{2}-\d{2}$/.test(v);
  filters = {
    from: pick("from", isDate),
    to: pick("to", isDate),
    tenant: pick("tenant", (v) => v.length <= 128),
    user_type: pick("user_type", (v) => api.USER_TYPES.includes(v)),
    app: pick("app", (v) => /^[a-z0-9()][a-z0-9_()-]{0,39}$/.test(v)),
    grain: pick("grain", (v) => ["day", "week", "month"].includes(v)),
  };
  view = pick("view", (v) => VIEWS.some((x) => x.id === v));
  const launchDate = params.get("launch");
  context.launch.date = launchDate && isDate(launchDate) ? launchDate : context.launch.date;
  context.compare = params.get("compare") === "1";
  context.featureSort = pick("sort", (v) => ["users", "growth", "share"].includes(v)) || "users";
  context.tenantSort = params.get("tsort") || "wau";
  context.funnel = { id: params.get("funnel") || "", mode: params.get("mode") === "session" ? "session" : "7d" };
  const weeks = Number.parseInt(params.get("weeks") || "4", 10);
  context.launch.weeks = weeks >= 1 && weeks <= 12 ? weeks : 4;
  context.launch.feature = params.get("feature") || "";
  context.survey = pick("survey", (v) => /^[0-9a-f]{32}$/.test(v));
}

function writeHash() {
  const params = new URLSearchParams({ view, ...filters, launch: context.launch.date, weeks: String(context.launch.weeks) });
  if (context.compare) params.set("compare", "1");
  if (context.featureSort !== "users") params.set("sort", context.featureSort);
  if (context.tenantSort !== "wau") params.set("tsort", context.tenantSort);
  if (context.funnel.id) params.set("funnel", context.funnel.id);
  if (context.funnel.mode !== "7d") params.set("mode", context.funnel.mode);
  if (context.launch.feature) params.set("feature", context.launch.feature);
  if (context.survey) params.set("survey", context.survey);
  for (const [name, value] of [...params]) if (!value) params.delete(name);
  history.replaceState(null, "", `#${params}`);
}

function fillForm() {
  form.elements.from.value = filters.from;
  form.elements.to.value = filters.to;
  form.elements.user_type.value = filters.user_type;
  ensureOption(form.elements.tenant, filters.tenant, "Selected tenant");
  form.elements.tenant.value = filters.tenant;
  ensureOption(form.elements.app, filters.app, filters.app);
  form.elements.app.value = filters.app;
  form.elements.grain.value = filters.grain;
  launchForm.elements.date.value = context.launch.date;
  launchForm.elements.weeks.value = String(context.launch.weeks);
}

function ensureOption(select, value, label) {
  if (value && ![...select.options].some((o) => o.value === value)) select.append(el("option", { value }, label));
}

// ---- loading and rendering ----------------------------------------------------------------------

const loaded = new Map(); // view id → key of the filters it shows
const controllers = new Map();
const pending = new Map(); // view id → key of the filters being loaded (a second click waits for it)
let blocked = null; // a 401/403 answer to the first request: every view shows it

const panelOf = (id) => $(`#panel-${id}`);
const viewKey = (id) =>
  JSON.stringify([
    filters,
    id === "launch" ? [context.launch, context.markers.length] : null,
    id === "onboarding" ? context.tenants.length : null,
    id === "active" ? context.compare : null,
    id === "adoption" ? context.featureSort : null,
    id === "tenants" ? context.tenantSort : null,
    id === "funnels" ? context.funnel : null,
    context.markers.length,
  ]);

function errorText(error) {
  switch (error.status) {
    case 401:
      return ["Your sign-in has expired.", "Reload the page to sign in again."];
    case 403:
      return ["You need the Cetegra.Analytics.Reader role to see these reports.", "Ask your Cetegra administrator to assign it to you in Entra ID, then reload the page."];
    case 503:
      return [
        "The analytics store is temporarily unavailable.",
        `Nothing is wrong with your filters. Try again${error.retryAfter ? ` in ${error.retryAfter} seconds` : " in a moment"}.`,
      ];
    case 400:
      return ["The report service did not accept these filters.", `${error.message}${error.field ? ` (parameter “${error.field}”)` : ""}`];
    case 0:
      return ["The analytics service could not be reached.", "Check your connection and try again."];
    default:
      return [`The report could not be loaded (HTTP ${error.status}).`, error.message || "Try again later."];
  }
}

function showError(panel, error, retry) {
  const status = $(".status", panel);
  const [title, detail] = errorText(error);
  const box = el("div", { class: `error error-${error.status}`, role: "alert" }, el("p", { class: "error-title" }, title), el("p", {}, detail));
  if (retry && error.status !== 403 && error.status !== 401) {
    const button = el("button", { type: "button", class: "retry" }, "Try again");
    button.addEventListener("click", retry);
    box.append(button);
  }
  status.replaceChildren(box);
}

function updateKNote(k, privacy) {
  if (!Number.isInteger(k)) return;
  const guarantee = privacy && Number.isFinite(privacy.epsilon)
    ? ` Every number is a differentially private release (ε = ${privacy.epsilon} per person and month): a little random noise, drawn once when the period closed, with its 95 % margin shown as “±”.`
    : "";
  $("#k-text").textContent = `counts of fewer than ${k} people (k = ${k}) are never shown — such values say “hidden” (never 0); every count is of people who consented.${guarantee}`;
}

async function load(id, { force = false } = {}) {
  const spec = VIEWS.find((v) => v.id === id);
  const panel = panelOf(id);
  const key = viewKey(id);
  if (blocked) {
    showError(panel, blocked);
    return;
  }
  if (!force && (loaded.get(id) === key || (pending.get(id) === key && !controllers.get(id)?.signal.aborted))) return;
  pending.set(id, key);
  controllers.get(id)?.abort();
  const controller = new AbortController();
  controllers.set(id, controller);
  const content = $(".content", panel);
  panel.setAttribute("aria-busy", "true");
  $(".status", panel).replaceChildren(el("p", { class: "loading" }, "Loading…"));
  try {
    const data = await spec.load({ ...filters }, controller.signal, context);
    if (controller.signal.aborted) return;
    const { nodes, downloads } = spec.render(data, context);
    disposeCharts(content);
    content.replaceChildren(...nodes);
    renderDownloads(panel, downloads);
    $(".status", panel).replaceChildren();
    updateKNote(
      data.k ?? data.features?.k ?? data.retention?.k ?? data.data?.k ?? data.candidates?.k ?? data.report?.k,
      data.privacy ?? data.features?.privacy ?? data.retention?.privacy ?? data.data?.privacy ?? data.report?.privacy,
    );
    collectApps(data);
    loaded.set(id, key);
  } catch (error) {
    if (error.name === "AbortError") return;
    if (!(error instanceof api.ApiError)) {
      console.error(error);
      error = new api.ApiError(-1, "client", "The page could not show this report.");
    }
    disposeCharts(content);
    clear(content);
    clear($(".downloads", panel));
    showError(panel, error, () => load(id, { force: true }));
    loaded.delete(id);
  } finally {
    if (controllers.get(id) === controller) {
      panel.removeAttribute("aria-busy");
      pending.delete(id);
    }
  }
}

function collectApps(data) {
  const rows = data.rows || data.features?.rows || data.candidates?.rows || [];
  let added = false;
  for (const row of rows) {
    if (row.app && !context.apps.has(row.app)) {
      context.apps.add(row.app);
      added = true;
    }
  }
  if (added) fillApps();
}

function fillApps() {
  const select = form.elements.app;
  const chosen = select.value;
  const apps = [...context.apps].filter((a) => a !== "(other)" && a !== api.ALL).sort();
  select.replaceChildren(el("option", { value: "" }, "All apps"), ...apps.map((a) => el("option", { value: a }, a)));
  ensureOption(select, chosen, chosen);
  select.value = chosen;
}

function renderDownloads(panel, downloads) {
  const box = $(".downloads", panel);
  box.replaceChildren(
    ...downloads.map((d) => {
      const button = el("button", { type: "button", class: "download", "data-url": d.url }, d.label);
      button.addEventListener("click", () => download(panel, d, button));
      return button;
    }),
  );
}

async function download(panel, d, button) {
  button.disabled = true;
  try {
    const blob = await api.fetchCsv(d.url, d.csv);
    const href = URL.createObjectURL(blob);
    const scope = filters.tenant ? "-tenant" : "";
    const file = d.csv ? `cetegra-${d.name}.csv` : `cetegra-${d.name}${scope}-${filters.from}-to-${filters.to}.csv`;
    const a = el("a", { href, download: file, class: "visually-hidden" }, "download");
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(href), 10000);
  } catch (error) {
    showError(panel, error instanceof api.ApiError ? error : new api.ApiError(-1, "client", "The download failed."));
  } finally {
    button.disabled = false;
  }
}

// ---- tabs (WAI-ARIA tabs pattern: arrow keys, Home/End, roving tabindex) -----------------------

const tabs = [...document.querySelectorAll('[role="tab"]')];

/** The app filter applies to the views that report per app; elsewhere it is disabled and says so. */
function appFilterFor(id) {
  const applies = APP_VIEWS.includes(id);
  form.elements.app.disabled = !applies;
  $("#app-note").textContent = applies ? "" : "The app filter applies to Feature adoption and Launch comparison only.";
}

function select(id, { focus = false } = {}) {
  view = id;
  appFilterFor(id);
  for (const tab of tabs) {
    const on = tab.id === `tab-${id}`;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    panelOf(tab.id.slice(4)).hidden = !on;
    if (on && focus) tab.focus();
  }
  writeHash();
  load(id);
}

for (const tab of tabs) {
  tab.addEventListener("click", () => select(tab.id.slice(4)));
  tab.addEventListener("keydown", (event) => {
    const i = tabs.indexOf(tab);
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    select(tabs[(next + tabs.length) % tabs.length].id.slice(4), { focus: true });
  });
}

// ---- filters ----------------------------------------------------------------------------------

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const next = {
    from: String(data.get("from") || ""),
    to: String(data.get("to") || ""),
    tenant: String(data.get("tenant") || ""),
    user_type: String(data.get("user_type") || ""),
    app: form.elements.app.disabled ? filters.app : String(data.get("app") || ""),
    grain: String(data.get("grain") || "day"),
  };
  const problem = !next.from || !next.to
    ? "Choose both dates."
    : next.from > next.to
      ? "“From” must be on or before “To”."
      : api.daysBetween(next.from, next.to) + 1 > api.MAX_RANGE_DAYS
        ? `Choose at most ${api.MAX_RANGE_DAYS} days.`
        : "";
  $("#filter-error").textContent = problem;
  if (problem) {
    form.elements[next.from > next.to || !next.from ? "from" : "to"].focus();
    return;
  }
  filters = next;
  writeHash();
  load(view);
});

launchForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const weeks = Number.parseInt(launchForm.elements.weeks.value, 10);
  const date = launchForm.elements.date.value || context.launch.date;
  context.launch = {
    marker: context.markers.find((m) => m.date === date) || null,
    feature: launchForm.elements.feature.value,
    date: launchForm.elements.date.value || context.launch.date,
    weeks: weeks >= 1 && weeks <= 12 ? weeks : 4,
  };
  launchForm.elements.weeks.value = String(context.launch.weeks);
  writeHash();
  load("launch");
});

// A link inside the page (the tenant table's names) changes the fragment: show what it names.
window.addEventListener("hashchange", () => {
  readHash();
  fillForm();
  select(view);
});

// ---- demo seeding (local host only) -------------------------------------------------------------

/** While the local host seeds its synthetic demo data, say so (not "No data") and reload after. */
async function watchSeeding() {
  const banner = $("#seeding");
  let status;
  try {
    status = await api.status();
  } catch {
    return; // no status: nothing to say
  }
  if (!status.demo_seeding) {
    if (!banner.hidden) {
      banner.hidden = true;
      loaded.clear();
      load(view, { force: true });
    }
    return;
  }
  banner.hidden = false;
  setTimeout(watchSeeding, 5000);
}

// ---- start ----------------------------------------------------------------------------------------

async function start() {
  readHash();
  fillForm();
  try {
    context.tenants = await api.tenants();
    const tenantSelect = form.elements.tenant;
    tenantSelect.replaceChildren(el("option", { value: "" }, "All tenants"), ...context.tenants.map((t) => el("option", { value: t.tenant }, tenantLabel(t))));
    ensureOption(tenantSelect, filters.tenant, "Unknown tenant");
    tenantSelect.value = filters.tenant;
  } catch (error) {
    if (error instanceof api.ApiError && (error.status === 401 || error.status === 403)) {
      blocked = error; // no report will load: say why once in every view, send nothing more
    }
    // Otherwise tenants are only needed for the filter and onboarding; views explain their errors.
  }
  if (!blocked) {
    try {
      context.markers = await api.markers();
    } catch {
      context.markers = []; // the charts simply have no markers
    }
    const latest = context.markers.at(-1);
    if (!context.launch.date) {
      // the launch view starts at the latest launch marker (with its feature), else mid-range
      context.launch.marker = latest || null;
      context.launch.date = latest ? latest.date : api.mondayOf(api.addDays(filters.from, Math.floor(api.daysBetween(filters.from, filters.to) / 2)));
      if (latest?.feature && !context.launch.feature) context.launch.feature = `${latest.app || "(none)"}::${latest.feature}`;
      launchForm.elements.date.value = context.launch.date;
    } else context.launch.marker = context.markers.find((m) => m.date === context.launch.date) || null;
    watchSeeding();
  }
  select(view);
  if (blocked) return;
  api.features({ ...filters, app: "" }, "month").then(collectApps, () => {});
}

start();
