// Cetegra notifications client: product notifications and short surveys (the in-house Beamer).
//
// * Product communication, not analytics: nothing here reads or needs the analytics consent, and
//   nothing is tracked. The server keys seen/dismissed state and answers by its own pseudonym.
// * Titles, bodies, questions and options are text. Render them with `textContent`, never as
//   HTML; use `safeLink()` for the optional link (https: or a path of this site, nothing else).
// * Never throws into the host app, and never waits long: init() accepts anything; every call
//   (getToken and the API's answer) has a time limit (`timeoutMs`, 5 s); failures and timeouts
//   resolve to [] (pending) or {ok: false, status: 0 | <http status>, ...}.
// * Across sites (third-party cookies blocked) give `getToken`, as for cetegra-analytics.js: every
//   request then carries `Authorization: Bearer` and no cookies. Without it the App Service session
//   cookie is sent (`credentials: "include"`), which works only when the API is same-site.
// * Requests carry no Referer (`referrerPolicy: "no-referrer"`): the API never sees the page URL.
// * The feed (`feed()`): the server keeps a notification the user has seen until it ends or is
//   dismissed, marked `seen` (read), with the unread count; surveys come only when the
//   deployment's cadence allows (enforced by the server). Texts come in the user's language
//   (`language` option, default the browser's), else the item's default.
// * `renderNotification` and `renderSurvey` build the centre's DOM (textContent only): the
//   authoring page's preview calls the same functions, so authors see what users will see.
// * A seen/dismiss/answer in one tab is announced to the other tabs of the same origin
//   (BroadcastChannel), so a notification centre open twice stays in step.
// No runtime dependencies.

const CHANNEL = "cetegra.notifications";
const TIMEOUT_MS = 5000;

/**
 * @typedef {object} NotificationOptions
 * @property {string} endpoint  Base URL of the API, e.g. "https://analytics.cetegra.com/api".
 * @property {() => (string|null|Promise<string|null>)} [getToken]  An Entra access token for the API
 *   (e.g. from MSAL's acquireTokenSilent). With it, requests carry `Authorization: Bearer` and no
 *   cookies (`credentials: "omit"`): the way to reach an API on another site.
 * @property {RequestInit} [fetchOptions]  Merged into every request (extra headers; credentials).
 * @property {string} [app]  The module the user is in (items may target apps), e.g. "workspace".
 * @property {number} [timeoutMs=5000]  Time limit of every call: getToken and the API's answer.
 * @property {string|string[]} [language]  Preferred languages, best first ("nb", ["nb", "en"]);
 *   default: the browser's (`navigator.languages`).
 *
 * @typedef {object} Question
 * @property {"nps"|"rating"|"choice"} type  nps: 0-10; rating: 1-5; choice: one of `options`.
 * @property {string} text
 * @property {string[]|null} options
 *
 * @typedef {object} PendingItem
 * @property {string} id
 * @property {"notification"|"survey"} kind
 * @property {string} title
 * @property {string} body
 * @property {string|null} link
 * @property {"low"|"normal"|"high"} priority
 * @property {Question|null} question
 * @property {boolean} seen  Already shown: a read notification; a survey prompted before.
 * @property {boolean} [opened]  The user opened the link.
 * @property {string} [language]  The language the texts are in.
 * @property {string} starts_at
 * @property {string} ends_at
 *
 * @typedef {{code: string, message: string, field?: string}} ApiError
 * @typedef {{ok: true} | {ok: false, status: number, error: ApiError | null}} Outcome
 *   status 0 means the request did not reach the server (offline, blocked).
 * @typedef {{id: string, action: "seen"|"dismiss"|"answer"|"opened"}} Change
 * @typedef {{items: PendingItem[], unread: number}} Feed
 */

/**
 * @typedef {object} Settings
 * @property {string} endpoint
 * @property {NotificationOptions["getToken"] | null} getToken
 * @property {RequestInit} fetchOptions
 * @property {string} app
 * @property {number} timeoutMs
 * @property {string} language
 */

/** @type {Settings | null} */
let options = null;
/** @type {string | null} */
let token = null;
/** @type {Set<(change: Change) => void>} */
const listeners = new Set();
/** @type {BroadcastChannel | null} */
let channel = null;

/**
 * Configure the client (the same endpoint/getToken/fetchOptions shape as cetegra-analytics.js).
 * Never throws: without a usable endpoint the client stays off, and every call resolves to [] or
 * {ok: false, status: 0}.
 * @param {NotificationOptions} init
 */
export function init(init) {
  try {
    options = null;
    token = null;
    const given = init && typeof init === "object" ? init : /** @type {Partial<NotificationOptions>} */ ({});
    if (typeof given.endpoint !== "string" || !given.endpoint) return;
    options = {
      endpoint: given.endpoint.replace(/\/+$/, ""),
      getToken: typeof given.getToken === "function" ? given.getToken : null,
      fetchOptions: given.fetchOptions && typeof given.fetchOptions === "object" ? given.fetchOptions : {},
      app: typeof given.app === "string" ? given.app : "",
      timeoutMs: Math.max(1, Number(given.timeoutMs) || TIMEOUT_MS),
      language: languages(given.language),
    };
    if (!channel && typeof BroadcastChannel === "function") {
      channel = new BroadcastChannel(CHANNEL);
      channel.onmessage = (message) => notify(/** @type {Change} */ (message.data), false);
    }
  } catch {
    options = null; // a host app's odd options never break it
  }
}

/**
 * The `lang` query value: up to five language tags, best first, only what the API accepts.
 * @param {unknown} given
 * @returns {string}
 */
function languages(given) {
  let list = [];
  if (typeof given === "string") list = given.split(",");
  else if (Array.isArray(given)) list = given;
  else if (typeof navigator === "object" && navigator && Array.isArray(navigator.languages)) list = [...navigator.languages];
  return list
    .map((tag) => String(tag).trim())
    .filter((tag) => /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/.test(tag))
    .slice(0, 5)
    .join(",");
}

/**
 * Called with every seen/dismiss/answer made in this tab or another tab. Returns an unsubscribe.
 * @param {(change: Change) => void} listener
 * @returns {() => void}
 */
export function onChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** @param {Change} change @param {boolean} broadcast */
function notify(change, broadcast) {
  if (!change || typeof change.id !== "string") return;
  if (broadcast && channel) channel.postMessage(change);
  for (const listener of listeners) {
    try {
      listener(change);
    } catch {
      // a listener's bug is the host app's, and must not break the others
    }
  }
}

/**
 * Ask getToken for a fresh token within `ms` (a token that never comes must not hold the app);
 * keeps the last one otherwise.
 * @param {Settings} settings @param {number} ms
 */
async function refreshToken(settings, ms) {
  const getToken = settings.getToken;
  if (!getToken) return;
  let timer = 0;
  try {
    const fresh = await Promise.race([
      Promise.resolve().then(getToken),
      new Promise((resolve) => { timer = window.setTimeout(() => resolve(null), ms); }),
    ]);
    if (typeof fresh === "string" && fresh && settings === options) token = fresh;
  } catch {
    // keep the last token; the API answers 401 if it expired
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One call: the token, the request and its JSON body, all within timeoutMs (then aborted). Resolves
 * to the status and body, or null when no answer came (offline, blocked, timed out). Never rejects.
 * @param {string} path @param {RequestInit} init
 * @returns {Promise<{ok: boolean, status: number, body: any} | null>}
 */
async function request(path, init) {
  const settings = options;
  if (!settings) return null;
  const deadline = Date.now() + settings.timeoutMs;
  await refreshToken(settings, settings.timeoutMs);
  const controller = new AbortController();
  const timer = window.setTimeout(() => controller.abort(), Math.max(1, deadline - Date.now()));
  try {
    const base = settings.fetchOptions;
    /** @type {Record<string, string>} */
    const headers = { ...(/** @type {Record<string, string>} */ (base.headers) || {}), ...(/** @type {Record<string, string>} */ (init.headers) || {}) };
    const bearer = settings.getToken !== null;
    if (bearer && token) headers.Authorization = `Bearer ${token}`;
    const response = await fetch(settings.endpoint + path, {
      credentials: bearer ? "omit" : "include",
      ...base,
      ...init,
      headers,
      signal: controller.signal,
      referrerPolicy: "no-referrer",
    });
    let body = null;
    try {
      body = JSON.parse(await response.text()); // within the same time limit
    } catch {
      if (controller.signal.aborted) return null; // the body hung
      // not JSON (a proxy's page): the status says enough
    }
    return { ok: response.ok, status: response.status, body };
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/** @param {{ok: boolean, status: number, body: any} | null} answer @returns {Outcome} */
function outcome(answer) {
  if (!answer) return { ok: false, status: 0, error: null };
  if (answer.ok) return { ok: true };
  const body = answer.body;
  const error = body && typeof body.error === "object" && body.error ? body.error : null;
  return { ok: false, status: answer.status, error };
}

/**
 * The caller's feed: notifications until they end or are dismissed (read ones `seen`), the
 * surveys the cadence allows now, high priority first, and how many are unread;
 * `{items: [], unread: 0}` when anything fails.
 * @returns {Promise<Feed>}
 */
export async function feed() {
  try {
    const params = new URLSearchParams();
    if (options && options.app) params.set("app", options.app);
    if (options && options.language) params.set("lang", options.language);
    const query = params.toString() ? `?${params}` : "";
    const answer = await request(`/notifications${query}`, { method: "GET" });
    const body = answer && answer.ok ? answer.body : null;
    if (!body || !Array.isArray(body.items)) return { items: [], unread: 0 };
    const unread = Number.isInteger(body.unread) ? body.unread : body.items.filter((i) => !i.seen).length;
    return { items: body.items, unread };
  } catch {
    return { items: [], unread: 0 };
  }
}

/**
 * The feed's items (see `feed`); [] when anything fails.
 * @returns {Promise<PendingItem[]>}
 */
export async function pending() {
  return (await feed()).items;
}

/**
 * POST an action. Always `Content-Type: application/json` with a JSON body (`{}` when there is
 * nothing to say): the API refuses other state-changing requests.
 * @param {string} id @param {"seen"|"dismiss"|"answer"|"opened"} action @param {object} body
 * @returns {Promise<Outcome>}
 */
async function post(id, action, body) {
  try {
    const result = outcome(
      await request(`/notifications/${encodeURIComponent(String(id))}/${action}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      }),
    );
    if (result.ok) notify({ id: String(id), action }, true);
    return result;
  } catch {
    return { ok: false, status: 0, error: null };
  }
}

/** The item was shown: a notification is then read (it stays in the feed). @param {string} id */
export function seen(id) {
  return post(id, "seen", {});
}

/** The user opened the item's link (reach: link opened). @param {string} id */
export function opened(id) {
  return post(id, "opened", {});
}

/** Never show this item again. @param {string} id */
export function dismiss(id) {
  return post(id, "dismiss", {});
}

/**
 * Answer a survey (answering again replaces the earlier answer).
 * @param {string} id
 * @param {number|string} value  0-10 (nps), 1-5 (rating) or one of the options (choice).
 * @param {string|null} [comment]  At most 500 characters; empty means none.
 * @returns {Promise<Outcome>}
 */
export function answer(id, value, comment = null) {
  const text = typeof comment === "string" && comment.trim() ? comment : null;
  return post(id, "answer", { value, comment: text });
}

/**
 * The item's link if it is safe to put in an href: https: URLs and paths of this site only.
 * @param {string|null|undefined} link
 * @returns {string|null}
 */
export function safeLink(link) {
  if (typeof link !== "string" || !link) return null;
  try {
    const url = new URL(link, window.location.origin);
    if (url.protocol === "https:") return url.href;
    if (link.startsWith("/") && !link.startsWith("//") && url.origin === window.location.origin) return url.href;
  } catch {
    // not a URL
  }
  return null;
}

// ---- rendering: the centre's DOM, also the authoring page's preview ----------------------------

/**
 * @typedef {object} RenderHandlers
 * @property {Document} [document]  Where to build (default: the global document).
 * @property {() => void} [onDismiss]
 * @property {() => void} [onOpen]  The link was followed (report it with `opened`).
 * @property {Record<string, string>} [labels]  Button texts: dismiss, more, new.
 */

const LABELS = { dismiss: "Dismiss", more: "Read more", new: "New", notLikely: "Not likely", veryLikely: "Very likely" };

/**
 * @param {Document} doc @param {string} tag @param {string} className @param {string} value
 * @returns {HTMLElement}
 */
function textElement(doc, tag, className, value) {
  const element = doc.createElement(tag);
  element.className = className;
  element.textContent = value;
  return element;
}

/**
 * A notification as the centre shows it: an `<li>` with title, body, "New" when unread, a safe
 * link and a dismiss button. Text only (textContent), never HTML.
 * @param {PendingItem} item @param {RenderHandlers} [handlers]
 * @returns {HTMLLIElement}
 */
export function renderNotification(item, handlers = {}) {
  const doc = handlers.document || document;
  const labels = { ...LABELS, ...(handlers.labels || {}) };
  const li = /** @type {HTMLLIElement} */ (doc.createElement("li"));
  li.dataset.id = String(item.id);
  li.className = `cetegra-notification ${["low", "normal", "high"].includes(item.priority) ? item.priority : "normal"}`;
  li.dataset.unread = String(!item.seen);
  if (item.language) li.lang = String(item.language);
  if (!item.seen) li.append(textElement(doc, "span", "unread", labels.new));
  li.append(textElement(doc, "p", "title", String(item.title ?? "")));
  if (item.body) li.append(textElement(doc, "p", "body", String(item.body)));
  const href = safeLink(item.link);
  if (href) {
    const a = /** @type {HTMLAnchorElement} */ (textElement(doc, "a", "link", labels.more));
    a.href = href;
    a.rel = "noopener noreferrer";
    a.target = "_blank";
    a.addEventListener("click", () => handlers.onOpen && handlers.onOpen());
    li.append(a);
  }
  const close = /** @type {HTMLButtonElement} */ (textElement(doc, "button", "dismiss", labels.dismiss));
  close.type = "button";
  close.addEventListener("click", () => handlers.onDismiss && handlers.onDismiss());
  li.append(close);
  return li;
}

/**
 * A survey's question as the prompt shows it: title, question and a radio group of values
 * (0-10, 1-5 or the options). `onChoose` gets the value an answer sends.
 * @param {PendingItem} item
 * @param {RenderHandlers & {onChoose?: (value: number|string) => void}} [handlers]
 * @returns {HTMLDivElement}
 */
export function renderSurvey(item, handlers = {}) {
  const doc = handlers.document || document;
  const labels = { ...LABELS, ...(handlers.labels || {}) };
  const box = /** @type {HTMLDivElement} */ (doc.createElement("div"));
  box.className = "cetegra-survey";
  if (item.language) box.lang = String(item.language);
  const question = item.question || { type: "nps", text: "", options: null };
  box.append(textElement(doc, "p", "title", String(item.title ?? "")));
  const text = textElement(doc, "p", "question", String(question.text ?? ""));
  text.id = `q-${String(item.id).replace(/[^A-Za-z0-9_-]/g, "")}`;
  box.append(text);
  const scale = doc.createElement("div");
  scale.className = "scale";
  scale.setAttribute("role", "radiogroup");
  scale.setAttribute("aria-labelledby", text.id);
  /** @type {(number|string)[]} */
  const values = question.type === "nps" ? [...Array(11).keys()]
    : question.type === "rating" ? [1, 2, 3, 4, 5] : (question.options || []).map(String);
  for (const value of values) {
    const button = textElement(doc, "button", "value", String(value));
    /** @type {HTMLButtonElement} */ (button).type = "button";
    button.setAttribute("role", "radio");
    button.setAttribute("aria-checked", "false");
    button.dataset.value = String(value);
    button.addEventListener("click", () => {
      for (const other of scale.children) other.setAttribute("aria-checked", String(other === button));
      if (handlers.onChoose) handlers.onChoose(value);
    });
    scale.append(button);
  }
  box.append(scale);
  if (question.type === "nps") {
    const ends = doc.createElement("div");
    ends.className = "labels";
    ends.append(textElement(doc, "span", "", labels.notLikely), textElement(doc, "span", "", labels.veryLikely));
    box.append(ends);
  }
  return box;
}
