// The authoring page: list, edit, preview, schedule, publish, archive and duplicate notifications
// and surveys, with each item's reach and answers. Every figure comes from /api/authoring/* (author
// or operator role, audited) and /api/reports/surveys; text is only ever set with textContent
// (the page runs under Trusted Types 'none': an HTML sink would throw). The preview is drawn by
// the notification centre's own renderers, so authors see what users will see.
import "./authoring.css";
import { renderNotification, renderSurvey } from "../../cetegra-notifications.js";

const LANGS = ["en", "nb"];
const TYPE_WORDS = { it_admin: "IT admins", advanced_user: "advanced users", basic_user: "basic users" };
const MEASURE_WORDS = {
  delivered: "Delivered", seen: "Seen", opened: "Link opened", dismissed: "Dismissed",
  prompted: "Prompted", answered: "Answered",
};

/** @type {(selector: string) => any} */
const $ = (selector) => document.querySelector(selector);

const state = {
  /** @type {any[]} */ items: [],
  /** @type {Map<string, any>} */ reach: new Map(),
  /** @type {Map<string, any>} */ surveys: new Map(),
  /** @type {{tenant: string, name: string|null}[]} */ tenants: [],
  /** @type {any} */ settings: null,
  /** @type {any} */ current: null,
};

/**
 * One API call (same origin: the Easy Auth session cookie). Resolves to {status, body}; status 0
 * when no answer came.
 * @param {string} method @param {string} path @param {unknown} [body]
 */
async function api(method, path, body) {
  try {
    const response = await fetch(`/api${path}`, {
      method,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      referrerPolicy: "no-referrer",
    });
    const text = await response.text();
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    return { status: response.status, body: parsed };
  } catch {
    return { status: 0, body: null };
  }
}

/** @param {string} tag @param {string} text @param {string} [className] */
function el(tag, text = "", className = "") {
  const node = document.createElement(tag);
  if (text) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function banner(message) {
  $("#page-error").textContent = message;
  $("#page-error").hidden = !message;
}

// ---- words for the list ---------------------------------------------------------------------------

const utc = (iso) => (iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : "");

/** Draft, scheduled, live, ended or archived: "Live" only inside the window. @param {any} item */
function statusWords(item, now = Date.now()) {
  if (item.status !== "published") return item.status === "draft" ? "Draft" : "Archived";
  if (now < Date.parse(item.starts_at)) return "Scheduled";
  if (now >= Date.parse(item.ends_at)) return "Ended";
  return "Live";
}

/** @param {any} audience */
function audienceWords(audience) {
  const names = new Map(state.tenants.map((t) => [t.tenant, t.name || `unnamed company ${t.tenant}`]));
  const parts = [];
  parts.push(audience.tenants.length ? audience.tenants.map((k) => names.get(k) || `company ${k}`).join(", ") : "every company");
  parts.push(audience.user_types.length ? audience.user_types.map((t) => TYPE_WORDS[t] || t).join(" and ") : "all users");
  if (audience.apps.length) parts.push(`in ${audience.apps.join(", ")}`);
  return parts.join(" · ");
}

/** A released count: the number ± its 95 % margin, or "hidden" (never a 0 standing in for it).
 * @param {{count: number|null, hidden: boolean, moe?: number} | undefined} figure */
const figureWords = (figure) =>
  !figure ? "–" : figure.hidden ? "hidden" : figure.moe ? `${figure.count} ± ${figure.moe}` : String(figure.count);

function reachWords(item) {
  const reach = state.reach.get(item.id);
  if (!reach) return "–";
  const first = item.kind === "survey" ? "prompted" : "seen";
  return `${figureWords(reach.totals.delivered)} delivered · ${figureWords(reach.totals[first])} ${first}`;
}

function answerWords(item) {
  if (item.kind !== "survey") return "";
  const survey = state.surveys.get(item.id);
  if (!survey) return item.status === "draft" ? "" : "–";
  if (survey.as_of === null) return "–";
  return survey.suppressed || survey.answers === null ? "hidden" : `${survey.answers}${survey.answers_moe ? ` ± ${survey.answers_moe}` : ""}`;
}

// ---- loading --------------------------------------------------------------------------------------

async function load() {
  const [items, reach, surveys, tenants, settings] = await Promise.all([
    api("GET", "/authoring/items"),
    api("GET", "/authoring/reach"),
    api("GET", "/reports/surveys"),
    api("GET", "/authoring/tenants"),
    api("GET", "/authoring/settings"),
  ]);
  if (items.status !== 200) {
    banner(items.status === 403 ? "This page needs the Author role (Cetegra.Analytics.Author) of Cegal's staff tenant."
      : items.status === 401 ? "Please sign in." : "The items could not be loaded; try again later.");
    document.body.dataset.ready = "true";
    return;
  }
  banner("");
  state.items = items.body.items;
  state.reach = new Map((reach.body?.items || []).map((r) => [r.id, r]));
  state.surveys = new Map((surveys.body?.surveys || []).map((s) => [s.id, s]));
  state.tenants = tenants.body?.tenants || [];
  state.settings = settings.body;
  renderCadence();
  renderTenants();
  renderList();
  document.body.dataset.ready = "true";
}

function renderCadence() {
  const box = $("#cadence");
  box.replaceChildren();
  const s = state.settings;
  if (!s) return;
  const rows = [
    ["First survey", `on a user's day ${s.cadence.first_day} at the earliest`],
    ["Survey prompts", s.cadence.interval_days ? `at most one per ${s.cadence.interval_days} days per user` : "no limit"],
    ["After an answer", `no survey for ${s.cadence.pause_after_answer_days} days`],
    ["After “don't ask again”", `no survey for ${s.cadence.pause_after_dismiss_days} days`],
    ["Changes reach users", `within ${s.cache_seconds} seconds`],
    ["Counts", `of fewer than ${s.k} people are hidden`],
    ["Survey results", `released in 4 scheduled snapshots per survey, at least ${s.snapshot_hours} hours apart`],
  ];
  for (const [term, value] of rows) box.append(el("dt", term), el("dd", value));
}

function renderTenants() {
  const box = $("#audience-tenants");
  box.replaceChildren();
  if (!state.tenants.length) box.append(el("p", "No company has a name in the directory yet (ops name them).", "hint"));
  for (const t of state.tenants) {
    const label = el("label");
    const input = /** @type {HTMLInputElement} */ (el("input"));
    input.type = "checkbox";
    input.name = "tenant";
    input.value = t.tenant;
    label.append(input, document.createTextNode(` ${t.name || `unnamed company ${t.tenant}`}`));
    box.append(label);
  }
}

function renderList() {
  const body = $("#items tbody");
  body.replaceChildren();
  $("#no-items").hidden = state.items.length > 0;
  for (const item of state.items) {
    const row = el("tr");
    row.dataset.id = item.id;
    const titleCell = el("td");
    const open = el("button", item.title, "link-button");
    /** @type {HTMLButtonElement} */ (open).type = "button";
    open.addEventListener("click", () => edit(item.id));
    titleCell.append(open);
    row.append(
      titleCell,
      el("td", item.kind === "survey" ? "Survey" : "Notification"),
      el("td", statusWords(item), `status ${statusWords(item).toLowerCase()}`),
      el("td", `${utc(item.starts_at)} – ${utc(item.ends_at)}`),
      el("td", audienceWords(item.audience)),
      el("td", reachWords(item), "reach"),
      el("td", answerWords(item), "answers"),
    );
    body.append(row);
  }
}

// ---- the editor -------------------------------------------------------------------------------------

const kind = () => /** @type {HTMLInputElement} */ ($('input[name="kind"]:checked')).value;
const lines = (text) => text.split("\n").map((s) => s.trim()).filter(Boolean);
const toLocal = (iso) => (iso ? iso.slice(0, 16) : "");
const fromLocal = (value) => (value ? `${value}:00Z` : "");

function blank(k) {
  const now = new Date();
  const start = new Date(Math.floor(now.getTime() / 60_000) * 60_000); // from now (minutes)
  const end = new Date(start.getTime() + 14 * 86400_000);
  return {
    id: null, status: "draft", kind: k, title: "", body: "", link: null, priority: "normal",
    question: k === "survey" ? { type: "nps", text: "", options: null } : null,
    audience: { tenants: [], user_types: [], apps: [] }, series: null,
    starts_at: start.toISOString(), ends_at: end.toISOString(), language: "en", translations: {},
  };
}

/** Fill the form from an item (or a blank one). @param {any} item */
function fill(item) {
  state.current = item;
  clearErrors();
  /** @type {HTMLInputElement} */ ($(`input[name="kind"][value="${item.kind}"]`)).checked = true;
  for (const input of document.querySelectorAll('input[name="kind"]')) /** @type {HTMLInputElement} */ (input).disabled = Boolean(item.published_at);
  $("#language").value = item.language;
  for (const lang of LANGS) {
    const own = lang === item.language;
    const t = own ? { title: item.title, body: item.body, question: item.question?.text, options: item.question?.options }
      : item.translations[lang] || {};
    $(`#${lang}-title`).value = t.title || "";
    $(`#${lang}-body`).value = t.body || "";
    $(`#${lang}-question`).value = t.question || "";
    $(`#${lang}-options`).value = (t.options || []).join("\n");
  }
  $("#question-type").value = item.question?.type || "nps";
  $("#question-type").disabled = Boolean(item.published_at);
  $("#series").value = item.series || "";
  $("#link").value = item.link || "";
  $("#priority").value = item.priority;
  for (const box of document.querySelectorAll('input[name="tenant"]')) /** @type {HTMLInputElement} */ (box).checked = item.audience.tenants.includes(/** @type {HTMLInputElement} */ (box).value);
  for (const box of document.querySelectorAll('input[name="user_type"]')) /** @type {HTMLInputElement} */ (box).checked = item.audience.user_types.includes(/** @type {HTMLInputElement} */ (box).value);
  $("#apps").value = item.audience.apps.join(", ");
  $("#starts").value = toLocal(item.starts_at);
  $("#ends").value = toLocal(item.ends_at);
  const title = item.id ? `Edit: ${item.title}` : item.kind === "survey" ? "New survey" : "New notification";
  $("#editor-title").textContent = title;
  $("#editor-status").textContent = item.id ? `${statusWords(item)} · last changed ${utc(item.updated_at)} UTC` : "Not saved yet";
  $("#save").textContent = item.status === "draft" ? "Save draft" : "Save changes";
  $("#publish").hidden = item.status !== "draft";
  $("#unpublish").hidden = item.status !== "published";
  $("#archive").hidden = !item.id || item.status === "archived";
  $("#duplicate").hidden = !item.id;
  const locked = item.status === "archived";
  for (const field of document.querySelectorAll("#form input, #form textarea, #form select")) {
    if (locked) /** @type {HTMLInputElement} */ (field).disabled = true;
    else if (!["question-type"].includes(field.id) && field.getAttribute("name") !== "kind") /** @type {HTMLInputElement} */ (field).disabled = false;
  }
  $("#save").disabled = locked;
  shape();
  preview();
}

/** Show the survey-only and choice-only fields as the kind and question type say. */
function shape() {
  const survey = kind() === "survey";
  for (const node of document.querySelectorAll(".survey-only")) /** @type {HTMLElement} */ (node).hidden = !survey;
  const choice = survey && $("#question-type").value === "choice";
  for (const node of document.querySelectorAll(".choice-only")) /** @type {HTMLElement} */ (node).hidden = !choice;
}

/** The form as the API's item fields. */
function fields() {
  const language = $("#language").value;
  const survey = kind() === "survey";
  const type = $("#question-type").value;
  /** @param {string} lang */
  const text = (lang) => ({
    title: $(`#${lang}-title`).value.trim(),
    body: $(`#${lang}-body`).value,
    question: $(`#${lang}-question`).value.trim(),
    options: lines($(`#${lang}-options`).value),
  });
  const own = text(language);
  /** @type {Record<string, any>} */
  const translations = {};
  for (const lang of LANGS.filter((l) => l !== language)) {
    const t = text(lang);
    /** @type {Record<string, any>} */
    const out = {};
    if (t.title) out.title = t.title;
    if (t.body.trim()) out.body = t.body;
    if (survey && t.question) out.question = t.question;
    if (survey && type === "choice" && t.options.length) out.options = t.options;
    if (Object.keys(out).length) translations[lang] = out;
  }
  const checked = (name) => [...document.querySelectorAll(`input[name="${name}"]:checked`)].map((b) => /** @type {HTMLInputElement} */ (b).value);
  return {
    kind: kind(),
    title: own.title,
    body: own.body,
    link: $("#link").value.trim() || null,
    priority: $("#priority").value,
    question: survey ? { type, text: own.question, ...(type === "choice" ? { options: own.options } : {}) } : null,
    audience: {
      tenants: checked("tenant"),
      user_types: checked("user_type"),
      apps: $("#apps").value.split(",").map((s) => s.trim()).filter(Boolean),
    },
    series: survey && $("#series").value.trim() ? $("#series").value.trim() : null,
    starts_at: fromLocal($("#starts").value),
    ends_at: fromLocal($("#ends").value),
    language,
    translations,
  };
}

let lastPreview = "";

/** The live preview: the item as a user of the chosen language would get it, drawn by the
 * notification centre's renderers. */
function preview() {
  const f = fields();
  const lang = $("#preview-language").value;
  const t = lang === f.language ? {} : f.translations[lang] || {};
  const question = f.question && {
    ...f.question,
    text: t.question || f.question.text,
    options: t.options || f.question.options || null,
  };
  const item = {
    id: "preview", kind: f.kind, title: t.title || f.title || "(no title yet)", body: t.body ?? f.body,
    link: f.link, priority: f.priority, question, seen: false,
    language: lang === f.language || f.translations[lang] ? lang : f.language,
    starts_at: f.starts_at, ends_at: f.ends_at,
  };
  const key = JSON.stringify(item);
  if (key === lastPreview) return; // unchanged: keep the DOM (a re-render on blur moved the page under the pointer)
  lastPreview = key;
  const box = $("#preview");
  if (f.kind === "survey") box.replaceChildren(renderSurvey(item));
  else {
    const list = el("ul", "", "centre");
    list.append(renderNotification(item));
    box.replaceChildren(list);
  }
}

// ---- errors at the field ------------------------------------------------------------------------------

function clearErrors() {
  for (const node of document.querySelectorAll(".field-error")) node.textContent = "";
  for (const node of document.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
}

/** The form control an API error's `field` names (as the page lays the item out). @param {string} field */
function target(field) {
  const language = $("#language").value;
  const other = LANGS.find((l) => l !== language) || "nb";
  const translated = /^translations\.([a-z]+)\.(title|body|question|options)/.exec(field);
  if (translated) return `${translated[1]}-${translated[2]}`;
  if (field.startsWith("translations")) return `${other}-title`;
  if (field === "title" || field === "body") return `${language}-${field}`;
  if (field === "question.text") return `${language}-question`;
  if (field.startsWith("question.options")) return `${language}-options`;
  if (field.startsWith("question")) return kind() === "survey" ? `${language}-question` : "question-type";
  if (field === "starts_at") return "starts";
  if (field === "ends_at") return "ends";
  if (field.startsWith("audience.apps")) return "apps";
  if (field.startsWith("audience")) return "audience";
  if (["link", "series"].includes(field)) return field;
  return "form";
}

/** @param {{status: number, body: any}} answer */
function showError(answer) {
  const error = answer.body?.error;
  if (!error) {
    $("#err-form").textContent = answer.status === 0 ? "No answer from the server; try again." : `The server said ${answer.status}.`;
    return;
  }
  const id = target(error.field || "");
  const slot = $(`#err-${id}`) || $("#err-form");
  slot.textContent = error.message;
  const control = $(`#${id}`);
  if (control) {
    control.setAttribute("aria-invalid", "true");
    if (control.closest("[hidden]") === null) control.focus();
  }
}

// ---- actions --------------------------------------------------------------------------------------------

/** Save the form (create or patch), optionally with a status change. Nothing is stored when the
 * API refuses it: the error is shown at its field. @param {string} [status] */
async function save(status) {
  clearErrors();
  const body = fields();
  const item = state.current;
  let answer;
  if (!item?.id) {
    answer = await api("POST", "/authoring/items", body);
    if (answer.status === 201 && status) answer = await api("PATCH", `/authoring/items/${answer.body.id}`, { status });
  } else {
    const changes = /** @type {Record<string, any>} */ ({ ...body, ...(status ? { status } : {}) });
    if (item.published_at) {
      delete changes.kind; // fixed once published: answers refer to them
      delete changes.question;
    }
    answer = await api("PATCH", `/authoring/items/${item.id}`, changes);
  }
  if (answer.status !== 200 && answer.status !== 201) {
    showError(answer);
    return;
  }
  $("#editor-status").textContent = status === "published" ? "Published" : status === "archived" ? "Archived" : "Saved";
  await load();
  await edit(answer.body.id);
}

async function edit(id) {
  const item = state.items.find((i) => i.id === id);
  if (!item) return;
  fill(item);
  await detail(item);
  $("#editor").scrollIntoView({ block: "start" });
}

/** Reach (and for a survey its answers and freshness) of the selected item. @param {any} item */
async function detail(item) {
  const box = $("#detail");
  box.hidden = false;
  const [reach, results] = await Promise.all([
    api("GET", `/authoring/items/${item.id}/reach`),
    item.kind === "survey" && item.published_at ? api("GET", `/authoring/items/${item.id}/results`) : Promise.resolve(null),
  ]);
  $("#k-text").textContent =
    "Counts of people are released once a UTC day has closed (today is in progress), with noise: each shows ± its " +
    `95 % margin of error, and a count under ${state.settings?.k ?? "k"} people or too small to tell from the noise ` +
    "is “hidden”, never a number.";
  const totals = $("#reach-totals");
  totals.replaceChildren();
  const head = $("#reach-days thead");
  const rows = $("#reach-days tbody");
  head.replaceChildren();
  rows.replaceChildren();
  if (reach.status === 200) {
    const r = reach.body;
    for (const m of r.measures) totals.append(el("dt", MEASURE_WORDS[m] || m), el("dd", figureWords(r.totals[m])));
    const tr = el("tr");
    tr.append(el("th", "Day (UTC)"));
    for (const m of r.measures) tr.append(el("th", MEASURE_WORDS[m] || m));
    for (const th of tr.children) th.setAttribute("scope", "col");
    head.append(tr);
    for (const day of r.days) {
      const row = el("tr");
      const th = el("th", day.day);
      th.setAttribute("scope", "row");
      row.append(th);
      for (const m of r.measures)
        row.append(el("td", day.released === false ? "in progress" : day.figures[m] ? figureWords(day.figures[m]) : "–"));
      rows.append(row);
    }
    if (!r.days.length) {
      const row = el("tr");
      const cell = el("td", "Nobody reached yet.");
      cell.setAttribute("colspan", String(r.measures.length + 1));
      row.append(cell);
      rows.append(row);
    }
  }
  const resultsBox = $("#results");
  resultsBox.hidden = !results || results.status !== 200;
  if (results && results.status === 200) {
    const r = results.body;
    const figures = $("#results-figures");
    figures.replaceChildren();
    const k = r.k;
    figures.append(el("dt", "Status"), el("dd", r.live ? "Live" : statusWords(item)));
    const pm = (/** @type {number | null | undefined} */ moe) => (moe ? ` ± ${moe}` : "");
    const answers = r.as_of === null ? "–" : r.suppressed || r.answers === null ? "hidden" : `${r.answers}${pm(r.answers_moe)}`;
    figures.append(el("dt", "Answers"), el("dd", answers));
    if (r.nps !== null && r.nps !== undefined) figures.append(el("dt", "NPS"), el("dd", `${r.nps}${pm(r.nps_moe)}`));
    if (r.mean !== null && r.mean !== undefined) figures.append(el("dt", "Mean"), el("dd", `${r.mean}${pm(r.mean_moe)}`));
    // results are differentially private releases taken at scheduled times; no count per read
    const next = r.renewable_at ? ` Next snapshot from ${utc(r.renewable_at)} UTC.` : " This was the last snapshot.";
    $("#freshness").textContent = r.as_of
      ? `Figures as of ${utc(r.as_of)} UTC (snapshot ${r.snapshot ?? "?"} of 4; hidden: under the threshold of ${k}).${next}`
      : r.renewable_at
        ? `The first results come from ${utc(r.renewable_at)} UTC.`
        : "No results.";
  }
}

async function act(status) {
  await save(status);
}

$("#form").addEventListener("submit", (event) => {
  event.preventDefault();
  save();
});
$("#publish").addEventListener("click", () => act("published"));
$("#unpublish").addEventListener("click", () => act("draft"));
$("#archive").addEventListener("click", () => act("archived"));
$("#duplicate").addEventListener("click", async () => {
  const item = state.current;
  if (!item?.id) return;
  const answer = await api("POST", `/authoring/items/${item.id}/duplicate`, {});
  if (answer.status !== 201) {
    showError(answer);
    return;
  }
  await load();
  await edit(answer.body.id);
  $("#editor-status").textContent = "A draft copy: edit and publish it";
});
$("#new-notification").addEventListener("click", () => { fill(blank("notification")); $("#detail").hidden = true; $("#en-title").focus(); });
$("#new-survey").addEventListener("click", () => { fill(blank("survey")); $("#detail").hidden = true; $("#en-title").focus(); });
$("#form").addEventListener("input", () => { shape(); preview(); });
$("#form").addEventListener("change", () => { shape(); preview(); });
$("#preview-language").addEventListener("change", preview);

fill(blank("notification"));
await load();
