// Demo of client/cetegra-notifications.js: a notification centre and an NPS prompt.
// Every text from the server is set with textContent; links go through safeLink().
import * as notifications from "/client/cetegra-notifications.js";

const params = new URLSearchParams(location.search);
const user = params.get("user") || "demo-user";
const tenant = params.get("tenant") || "demo-tenant";
const roles = params.getAll("role");
const principal = btoa(JSON.stringify({ auth_typ: "aad", role_typ: "roles",
  claims: [{ typ: "oid", val: user }, { typ: "tid", val: tenant }, ...roles.map((val) => ({ typ: "roles", val }))] }));
// The sign-in (as in index.html): ?auth=cookie (default) is Easy Auth's session cookie, ?auth=bearer an
// Entra token (here the local host's stand-in: the base64 principal). The cookie is the product's
// sign-in, not analytics, and is set only when the demo signs in that way; with a bearer token no
// cookie is written at all. Notifications never set a cookie of their own.
const auth = params.get("auth") || "cookie";
if (auth === "cookie") document.cookie = `AppServiceAuthSession=${principal}; path=/; SameSite=Strict`;
// With a token the module sends it as `Authorization: Bearer` and no cookies (as MSAL's
// acquireTokenSilent would give it; here the local host's stand-in, the base64 principal).
const getToken = auth === "bearer" ? () => principal : undefined;

const $ = (selector) => document.querySelector(selector);
$("#user").textContent = user;
$("#tenant").textContent = tenant;
$("#auth").textContent = auth === "bearer" ? "bearer token" : "session cookie";

notifications.init({ endpoint: "/api", app: params.get("app") || "workspace", getToken });

/** @type {Map<string, HTMLElement>} */
const shown = new Map();
/** @type {import("../cetegra-notifications.js").PendingItem | null} */
let survey = null;
let chosen = /** @type {number|string|null} */ (null);

function text(tag, className, value) {
  const element = document.createElement(tag);
  element.className = className;
  element.textContent = value;
  return element;
}

function renderItem(item) {
  const li = document.createElement("li");
  li.dataset.id = item.id;
  li.className = item.priority;
  li.append(text("p", "title", item.title));
  if (item.body) li.append(text("p", "body", item.body));
  const href = notifications.safeLink(item.link);
  if (href) {
    const a = text("a", "link", "Read more");
    a.href = href;
    a.rel = "noopener noreferrer";
    a.target = "_blank";
    li.append(a);
  }
  const close = text("button", "dismiss", "Dismiss");
  close.type = "button";
  close.onclick = async () => {
    if ((await notifications.dismiss(item.id)).ok) remove(item.id);
  };
  li.append(close);
  return li;
}

function remove(id) {
  shown.get(id)?.remove();
  shown.delete(id);
  if (survey && survey.id === id) closeSurvey();
  count();
}

function count() {
  $("#count").textContent = String(shown.size);
  $("#empty").hidden = shown.size > 0;
}

function openSurvey(item) {
  survey = item;
  chosen = null;
  const question = item.question;
  $("#survey-title").textContent = item.title;
  $("#survey-question").textContent = question.text;
  const scale = $("#survey-scale");
  scale.replaceChildren();
  const values = question.type === "nps" ? [...Array(11).keys()]
    : question.type === "rating" ? [1, 2, 3, 4, 5] : question.options || [];
  for (const value of values) {
    const button = text("button", "value", String(value));
    button.type = "button";
    button.setAttribute("role", "radio");
    button.setAttribute("aria-checked", "false");
    button.dataset.value = String(value);
    button.onclick = () => {
      chosen = value;
      for (const other of scale.children) other.setAttribute("aria-checked", String(other === button));
      $("#survey-send").disabled = false;
    };
    scale.append(button);
  }
  $("#survey-labels").hidden = question.type !== "nps";
  $("#survey-comment").value = "";
  $("#survey-error").textContent = "";
  $("#survey-send").disabled = true;
  $("#survey").showModal();
  if (!item.seen) notifications.seen(item.id);
}

function closeSurvey() {
  survey = null;
  if ($("#survey").open) $("#survey").close();
}

// The id is taken before the await: a successful answer or dismissal is announced to onChange
// (below) first, which already closes the survey and sets `survey` to null.
$("#survey-send").onclick = async () => {
  if (!survey || chosen === null) return;
  const id = survey.id;
  const result = await notifications.answer(id, chosen, $("#survey-comment").value);
  if (result.ok) remove(id);
  else $("#survey-error").textContent = result.error ? result.error.message : "Could not send; try again later.";
};
$("#survey-later").onclick = () => closeSurvey();
$("#survey-dismiss").onclick = async () => {
  if (!survey) return;
  const id = survey.id;
  if ((await notifications.dismiss(id)).ok) remove(id);
};

async function refresh() {
  const items = await notifications.pending();
  const centre = $("#centre");
  centre.replaceChildren();
  shown.clear();
  for (const item of items.filter((i) => i.kind === "notification")) {
    const li = renderItem(item);
    shown.set(item.id, li);
    centre.append(li);
    notifications.seen(item.id); // shown now: not pending any more (not again after a reload)
  }
  count();
  const next = items.find((i) => i.kind === "survey");
  if (next && !$("#survey").open) openSurvey(next);
  document.body.dataset.ready = "true";
}

// Another tab dismissed or answered: follow. (A notification seen elsewhere stays in this view.)
notifications.onChange((change) => {
  if (change.action !== "seen") remove(change.id);
});
$("#refresh").onclick = refresh;
window.notifications = notifications; // for the browser tests
await refresh();
