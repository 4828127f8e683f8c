// Cetegra Analytics web client: the client half of Cegal's cookie policy, as one ES module.
//
// * Nothing is queued or sent before the user's consent is known, and nothing after a "no"
//   (events tracked while undecided are dropped, never sent after a later "yes").
// * The session id is a tab-lifetime UUID in sessionStorage: never a cookie, never localStorage.
// * Events carry a registered name, the module id, the page *path* (never query, hash, referrer,
//   user agent, screen or language) and a client time; the server minimises the path further.
// * Delivery is batched, retried with backoff on 503 / network errors from a bounded queue kept in
//   sessionStorage (a reload loses nothing), and idempotent: every event has its own event_id.
// No runtime dependencies.

const SESSION_KEY = "cetegra.analytics.session";
const QUEUE_KEY = "cetegra.analytics.queue";

/**
 * @typedef {object} InitOptions
 * @property {string} endpoint  Base URL of the API, e.g. "https://analytics.cetegra.com/api".
 * @property {RequestInit} [fetchOptions]  Merged into every request (credentials, Entra bearer token).
 * @property {number} [maxBatch=20]  Send as soon as this many events are queued (1-100).
 * @property {number} [flushIntervalMs=5000]  Send what is queued at least this often.
 * @property {number} [maxQueue=500]  Bound on queued events; the oldest are dropped beyond it.
 * @property {boolean} [sendWhenDeclined=false]  Only for a server in DECLINED_MODE=anonymous.
 *
 * @typedef {object} Consent
 * @property {"granted"|"declined"|"unset"} status
 * @property {string|null} policy_version
 * @property {string|null} decided_at
 * @property {boolean} reprompt  Show the consent dialog (first visit, or a new policy version).
 *
 * @typedef {object} AnalyticsEvent
 * @property {string} event_id
 * @property {string} name
 * @property {string} session_id
 * @property {string} ts
 * @property {string} [app]
 * @property {string} page
 */

/** @type {Required<InitOptions> | null} */
let options = null;
/** @type {Consent | null} */
let consent = null;
let timer = 0;
let retryAt = 0;
let backoffMs = 0;
let sending = false;

function storage() {
  return window.sessionStorage;
}

/** The tab-lifetime session id (sessionStorage only; cleared when the tab closes). */
export function sessionId() {
  let id = storage().getItem(SESSION_KEY);
  if (!id) {
    id = crypto.randomUUID();
    storage().setItem(SESSION_KEY, id);
  }
  return id;
}

/** @returns {AnalyticsEvent[]} */
function readQueue() {
  try {
    const parsed = JSON.parse(storage().getItem(QUEUE_KEY) || "[]");
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return [];
  }
}

/** @param {AnalyticsEvent[]} queue */
function writeQueue(queue) {
  if (queue.length) storage().setItem(QUEUE_KEY, JSON.stringify(queue));
  else storage().removeItem(QUEUE_KEY);
}

function collecting() {
  if (!options || !consent) return false; // consent not known yet: collect nothing
  return consent.status === "granted" || (options.sendWhenDeclined && consent.status !== "unset");
}

/** @param {string} path @param {RequestInit} init */
async function request(path, init) {
  if (!options) throw new Error("call init() first");
  const base = options.fetchOptions;
  return fetch(options.endpoint + path, {
    ...base,
    ...init,
    headers: { ...(base.headers || {}), ...(init.headers || {}) },
  });
}

/**
 * Start the client. Reads the consent decision once for this page load; until it is known,
 * track() records nothing.
 * @param {InitOptions} init
 * @returns {Promise<Consent>}
 */
export async function init(init) {
  options = {
    fetchOptions: { credentials: "include" },
    maxBatch: 20,
    flushIntervalMs: 5000,
    maxQueue: 500,
    sendWhenDeclined: false,
    ...init,
    endpoint: init.endpoint.replace(/\/+$/, ""),
  };
  consent = null;
  window.addEventListener("pagehide", () => flush({ unloading: true }));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") flush({ unloading: true });
  });
  clearInterval(timer);
  timer = window.setInterval(() => flush(), options.flushIntervalMs);
  return getConsent();
}

/** Read the caller's consent (and whether to show the dialog). @returns {Promise<Consent>} */
export async function getConsent() {
  const response = await request("/consent", { method: "GET" });
  if (!response.ok) throw new Error(`consent: HTTP ${response.status}`);
  consent = /** @type {Consent} */ (await response.json());
  if (!collecting()) writeQueue([]); // e.g. withdrawn in another tab: forget what waits here
  return consent;
}

/**
 * Record the user's choice under the policy version the dialog showed. Declining (or
 * withdrawing) clears the queue at once: nothing more is sent.
 * @param {boolean} granted
 * @param {string} policyVersion
 * @returns {Promise<Consent>}
 */
export async function setConsent(granted, policyVersion) {
  const response = await request("/consent", {
    method: "PUT",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ status: granted ? "granted" : "declined", policy_version: policyVersion }),
  });
  if (!response.ok) throw new Error(`consent: HTTP ${response.status}`);
  consent = /** @type {Consent} */ (await response.json());
  if (!collecting()) writeQueue([]);
  return consent;
}

/**
 * Record that an action happened. Only the page path is taken from the location.
 * @param {string} name  A registered event name, e.g. "app.launch".
 * @param {{app?: string}} [details]
 */
export function track(name, details = {}) {
  if (!collecting() || !options) return;
  /** @type {AnalyticsEvent} */
  const event = {
    event_id: crypto.randomUUID(),
    name,
    session_id: sessionId(),
    ts: new Date().toISOString(),
    page: window.location.pathname,
  };
  if (details.app) event.app = details.app;
  const queue = readQueue();
  queue.push(event);
  writeQueue(queue.slice(-options.maxQueue));
  if (queue.length >= options.maxBatch) flush();
}

/**
 * Send what is queued. On unload it uses navigator.sendBeacon (text/plain, cookies only) or, when
 * the host authenticates with headers, fetch(..., {keepalive: true}).
 * @param {{unloading?: boolean}} [how]
 */
export async function flush(how = {}) {
  if (!options || sending) return;
  if (!collecting()) {
    writeQueue([]);
    return;
  }
  const queue = readQueue();
  if (!queue.length || (!how.unloading && Date.now() < retryAt)) return;
  const batch = queue.slice(0, 100);
  const body = JSON.stringify({ events: batch });
  const headers = options.fetchOptions.headers || {};
  if (how.unloading && Object.keys(headers).length === 0 && navigator.sendBeacon) {
    if (navigator.sendBeacon(options.endpoint + "/events", new Blob([body], { type: "text/plain" }))) {
      writeQueue(readQueue().slice(batch.length));
    }
    return;
  }
  sending = true;
  try {
    const response = await request("/events", {
      method: "POST",
      headers: { "Content-Type": how.unloading ? "text/plain" : "application/json" },
      body,
      keepalive: Boolean(how.unloading),
    });
    if (response.status === 202 || (response.status >= 400 && response.status < 500 && response.status !== 429)) {
      // Delivered, or refused for good (retrying a bad batch cannot help): forget it.
      const ids = new Set(batch.map((e) => e.event_id));
      writeQueue(readQueue().filter((e) => !ids.has(e.event_id)));
      backoffMs = 0;
      retryAt = 0;
    } else {
      scheduleRetry();
    }
  } catch {
    scheduleRetry(); // network error: keep the events; their ids make the retry idempotent
  } finally {
    sending = false;
  }
}

function scheduleRetry() {
  backoffMs = Math.min(backoffMs ? backoffMs * 2 : 1000, 60000);
  retryAt = Date.now() + backoffMs;
}

/** The consent read at init (null while it is loading). @returns {Consent|null} */
export function currentConsent() {
  return consent;
}
