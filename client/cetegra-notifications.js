// Cetegra notifications client: product notifications and short surveys (the in-house Beamer).
//
// * Product communication, not analytics: nothing here reads or needs the analytics consent, and
//   nothing is tracked. The server keys seen/dismissed state and answers by its own pseudonym.
// * Titles, bodies, questions and options are text. Render them with `textContent`, never as
//   HTML; use `safeLink()` for the optional link (https: or a path of this site, nothing else).
// * Never throws into the host app: failures resolve to [] (pending) or {ok: false, ...}.
// * A seen/dismiss/answer in one tab is announced to the other tabs of the same origin
//   (BroadcastChannel), so a notification centre open twice stays in step.
// No runtime dependencies.

const CHANNEL = "cetegra.notifications";

/**
 * @typedef {object} NotificationOptions
 * @property {string} endpoint  Base URL of the API, e.g. "https://analytics.cetegra.com/api".
 * @property {RequestInit} [fetchOptions]  Merged into every request (credentials, Entra bearer token).
 * @property {string} [app]  The module the user is in (items may target apps), e.g. "workspace".
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
 * @property {boolean} seen  A survey that was already shown (not answered, not dismissed).
 * @property {string} starts_at
 * @property {string} ends_at
 *
 * @typedef {{code: string, message: string, field?: string}} ApiError
 * @typedef {{ok: true} | {ok: false, status: number, error: ApiError | null}} Outcome
 *   status 0 means the request did not reach the server (offline, blocked).
 * @typedef {{id: string, action: "seen"|"dismiss"|"answer"}} Change
 */

/** @type {Required<NotificationOptions> | null} */
let options = null;
/** @type {Set<(change: Change) => void>} */
const listeners = new Set();
/** @type {BroadcastChannel | null} */
let channel = null;

/**
 * Configure the client (same endpoint/fetchOptions shape as cetegra-analytics.js).
 * @param {NotificationOptions} init
 */
export function init(init) {
  options = {
    fetchOptions: { credentials: "include" },
    app: "",
    ...init,
    endpoint: String(init.endpoint || "").replace(/\/+$/, ""),
  };
  if (!channel && typeof BroadcastChannel === "function") {
    channel = new BroadcastChannel(CHANNEL);
    channel.onmessage = (message) => notify(/** @type {Change} */ (message.data), false);
  }
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

/** @param {string} path @param {RequestInit} init @returns {Promise<Response | null>} */
async function request(path, init) {
  if (!options) return null;
  const base = options.fetchOptions;
  try {
    return await fetch(options.endpoint + path, {
      ...base,
      ...init,
      headers: { ...(base.headers || {}), ...(init.headers || {}) },
    });
  } catch {
    return null;
  }
}

/** @param {Response | null} response @returns {Promise<Outcome>} */
async function outcome(response) {
  if (!response) return { ok: false, status: 0, error: null };
  if (response.ok) return { ok: true };
  let error = null;
  try {
    const body = await response.json();
    if (body && typeof body.error === "object") error = body.error;
  } catch {
    // not JSON (a proxy's page): the status says enough
  }
  return { ok: false, status: response.status, error };
}

/**
 * The caller's pending items, high priority first; [] when anything fails.
 * @returns {Promise<PendingItem[]>}
 */
export async function pending() {
  const query = options && options.app ? `?app=${encodeURIComponent(options.app)}` : "";
  const response = await request(`/notifications${query}`, { method: "GET" });
  if (!response || !response.ok) return [];
  try {
    const body = await response.json();
    return Array.isArray(body.items) ? body.items : [];
  } catch {
    return [];
  }
}

/** @param {string} id @param {"seen"|"dismiss"|"answer"} action @param {object} body */
async function post(id, action, body) {
  const result = await outcome(
    await request(`/notifications/${encodeURIComponent(String(id))}/${action}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    }),
  );
  if (result.ok) notify({ id: String(id), action }, true);
  return result;
}

/** The item was shown: a notification is then no longer pending. @param {string} id */
export function seen(id) {
  return post(id, "seen", {});
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
