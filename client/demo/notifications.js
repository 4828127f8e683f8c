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

notifications.init({ endpoint: "/api", app: params.get("app") || "workspace", getToken,
  language: params.get("lang") || undefined });

/** @type {Map<string, HTMLElement>} */
const shown = new Map();
/** @type {import("../cetegra-notifications.js").PendingItem | null} */
let survey = null;
let chosen = /** @type {number|string|null} */ (null);
let unread = 0;

// The centre's items and the survey's question are built by the module's own renderers
// (renderNotification, renderSurvey): the authoring page's preview calls the same code.
function renderItem(item) {
  return notifications.renderNotification(item, {
    onDismiss: async () => {
      if ((await notifications.dismiss(item.id)).ok) remove(item.id);
    },
    onOpen: () => notifications.opened(item.id),
  });
}

function remove(id) {
  const li = shown.get(id);
  if (li && li.dataset.unread === "true") unread = Math.max(0, unread - 1);
  li?.remove();
  shown.delete(id);
  if (survey && survey.id === id) closeSurvey();
  count();
}

function count() {
  $("#count").textContent = String(unread);
  $("#count").setAttribute("aria-label", `${unread} unread`);
  $("#empty").hidden = shown.size > 0;
}

function openSurvey(item) {
  survey = item;
  chosen = null;
  const box = notifications.renderSurvey(item, {
    onChoose: (value) => {
      chosen = value;
      $("#survey-send").disabled = false;
    },
  });
  box.querySelector(".title").id = "survey-title";
  box.querySelector(".question").id = "survey-question";
  box.querySelector(".scale").id = "survey-scale";
  box.querySelector(".scale").setAttribute("aria-labelledby", "survey-question");
  $("#survey-box").replaceChildren(box);
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

// The feed: notifications stay until they end or are dismissed; unread ones say "New" and are
// marked read once shown (the count is what was unread when the centre opened).
async function refresh() {
  const feed = await notifications.feed();
  const centre = $("#centre");
  centre.replaceChildren();
  shown.clear();
  unread = feed.items.filter((i) => i.kind === "notification" && !i.seen).length;
  for (const item of feed.items.filter((i) => i.kind === "notification")) {
    const li = renderItem(item);
    shown.set(item.id, li);
    centre.append(li);
    if (!item.seen) notifications.seen(item.id); // shown now: read from the next visit on
  }
  count();
  const next = feed.items.find((i) => i.kind === "survey");
  if (next && !$("#survey").open) openSurvey(next);
  document.body.dataset.ready = "true";
}

// Another tab dismissed or answered: follow. (A notification seen elsewhere stays in this view.)
notifications.onChange((change) => {
  if (change.action === "dismiss" || change.action === "answer") remove(change.id);
});
$("#refresh").onclick = refresh;
window.notifications = notifications; // for the browser tests
await refresh();
