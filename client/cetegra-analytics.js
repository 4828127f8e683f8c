// Cetegra Analytics web client: the client half of Cegal's cookie policy, as one ES module.
//
// * It never breaks the product: no public function throws or rejects, and none waits long: every
//   call (getToken and the API's answer) has a time limit (`timeoutMs`, 5 s). `init()` resolves to
//   the consent, or to `{status: "unavailable"}` when the API cannot be reached or does not answer.
//   Then a tab that never said yes tracks nothing; a tab that said yes earlier (it holds a session
//   id) keeps queuing and, once the API answers again, re-reads the consent and sends (or, if it was
//   withdrawn meanwhile, removes the queue).
// * Nothing is written to the device before the user says yes: no session id, no queue, nothing in
//   sessionStorage, localStorage, cookies or IndexedDB while consent is unset, declined, unknown or
//   unavailable. A "no" (or a withdrawal) removes the session id and the queue at once.
// * With consent, the session id is a tab-lifetime UUID in sessionStorage (never a cookie, never
//   localStorage). Events carry a registered name, the module id, the page *path* (never query,
//   hash, referrer, user agent, screen or language) and a client time; the server keeps only the
//   catalogued route template.
// * It never loses an event it can deliver: events stay queued in sessionStorage until a 2xx
//   confirms them, one batch in flight at a time. On pagehide/visibilitychange what no request
//   carries yet goes once, with keepalive, even during a backoff (as much as the browser's 64 KiB
//   keepalive budget per page takes). A batch still in flight at a
//   navigation is marked in the queue, and the next page re-sends it only when that request's time
//   limit is over: an event goes out at most about twice, and the server stores each `event_id`
//   once. 429/503 `Retry-After` is honoured (except on unload); other refusals (400) drop the batch.
// * Delivery: when the API is on another site (third-party cookies blocked), every request carries
//   an Entra bearer token (`getToken`) and no cookies. Events go with `fetch(..., {keepalive: true})`,
//   which outlives the page; never `navigator.sendBeacon`, which would send the page URL as Referer.
//   Every request is `referrerPolicy: "no-referrer"`: the API never sees the page URL or its query.
// No runtime dependencies.

const SESSION_KEY = "cetegra.analytics.session";
const QUEUE_KEY = "cetegra.analytics.queue";
const MAX_BATCH = 100; // the API's batch limit
const MAX_BODY_BYTES = 60 * 1024; // keepalive bodies share a 64 KiB budget per page; the API takes 64 KiB
const TIMEOUT_MS = 5000; // default time limit of one call: the token and the API's answer
const UNMARK_AFTER_MS = 500; // a batch whose request failed may go again after this (see settle)

/** @type {Consent} */
const UNAVAILABLE = Object.freeze({ status: "unavailable", policy_version: null, decided_at: null, reprompt: false });

/**
 * @typedef {object} InitOptions
 * @property {string} endpoint  Base URL of the API, e.g. "https://analytics.cetegra.com/api".
 * @property {() => (string|null|Promise<string|null>)} [getToken]  An Entra access token for the API
 *   (e.g. from MSAL's acquireTokenSilent). With it, requests carry `Authorization: Bearer` and no
 *   cookies: the way to reach an API on another site when third-party cookies are blocked.
 * @property {"bearer"|"cookie"} [auth]  Default "bearer" when getToken is given, else "cookie" (the
 *   App Service session cookie; only works when the API is same-site).
 * @property {boolean} [sameSite]  No effect (kept for old callers): the module no longer uses
 *   sendBeacon, whose requests carry the page URL as Referer; a keepalive fetch is used instead.
 * @property {RequestInit} [fetchOptions]  Merged into every request (extra headers).
 * @property {number} [maxBatch=20]  Send as soon as this many events are queued (1-100).
 * @property {number} [flushIntervalMs=5000]  Send what is queued at least this often.
 * @property {number} [maxQueue=500]  Bound on queued events; the oldest are dropped beyond it.
 * @property {boolean} [sendWhenDeclined=false]  Only for a server in DECLINED_MODE=anonymous: then
 *   a "no" still sends events, from memory only (nothing stored on the device, no session id).
 * @property {number} [timeoutMs=5000]  Time limit of every call: getToken and the API's answer
 *   together. A call that takes longer is abandoned (the request aborted): `init()` then resolves
 *   `{status: "unavailable"}`, a batch stays queued for a later try.
 *
 * @typedef {object} Consent
 * @property {"granted"|"declined"|"unset"|"unavailable"} status
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
 *
 * @typedef {AnalyticsEvent & {_until?: number}} QueuedEvent  `_until`: a request carrying the event
 *   is in flight (perhaps from a page that is gone) and may still be answered until then
 *   (epoch ms); until that time it is not sent again. Never sent to the server.
 */

/** @type {(Required<Omit<InitOptions, "getToken">> & {getToken: InitOptions["getToken"]|null}) | null} */
let options = null;
/** @type {Consent | null} */
let consent = null;
/** @type {string | null} */
let token = null;
let timer = 0;
let retryAt = 0;
let backoffMs = 0;
let listening = false;
let epoch = 0; // +1 at every decline or withdrawal: work begun before it sends nothing after it
let decisions = 0; // +1 at every setConsent: a consent read begun before a choice does not undo it
/** @type {Set<AbortController>} */
const sending = new Set(); // the event requests in flight in this page, aborted at a withdrawal
let keepaliveBytes = 0; // the bodies of those requests: browsers allow a page 64 KiB of keepalive bodies
/** @type {QueuedEvent[]} */
let memoryQueue = []; // declined + sendWhenDeclined, or a tab whose sessionStorage is unusable

function store() {
  try {
    return window.sessionStorage;
  } catch {
    return null; // storage disabled: queue in memory
  }
}

/**
 * This tab said yes earlier: it holds a session id, which is written only after a granted consent
 * (and removed at once by a decline or withdrawal). While the API cannot be reached, such a tab
 * keeps queuing; a tab that never said yes stores and sends nothing.
 */
function heldSession() {
  return sessionId() !== null;
}

/** Events are kept on the device: consent granted, or unknown (API unreachable) in a tab that said yes. */
function keeping() {
  return consent !== null && (consent.status === "granted" || (consent.status === "unavailable" && heldSession()));
}

function persisting() {
  return keeping() && store() !== null;
}

/**
 * Remove everything this module ever stored on the device (decline, withdrawal, unset), and stop
 * every send in progress: one waiting for its token sends nothing, one in flight is aborted.
 */
function forget() {
  epoch += 1;
  for (const controller of sending) controller.abort();
  sending.clear();
  memoryQueue = [];
  const s = store();
  if (!s) return;
  try {
    s.removeItem(SESSION_KEY);
    s.removeItem(QUEUE_KEY);
  } catch {
    /* nothing stored */
  }
}

/**
 * The tab-lifetime session id, or null. Never creates one: an id exists only after consent was
 * granted and an event was tracked (sessionStorage only; gone when the tab closes).
 * @returns {string|null}
 */
export function sessionId() {
  try {
    return store()?.getItem(SESSION_KEY) ?? null;
  } catch {
    return null;
  }
}

function ensureSessionId() {
  const s = store();
  let id = s?.getItem(SESSION_KEY);
  if (!id) {
    id = crypto.randomUUID();
    s?.setItem(SESSION_KEY, id);
  }
  return id;
}

/** @returns {QueuedEvent[]} */
function readQueue() {
  if (!persisting()) return memoryQueue.slice();
  try {
    const parsed = JSON.parse(store()?.getItem(QUEUE_KEY) || "[]");
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return [];
  }
}

/** @param {QueuedEvent[]} queue */
function writeQueue(queue) {
  if (!persisting()) {
    memoryQueue = queue;
    return;
  }
  try {
    if (queue.length) store()?.setItem(QUEUE_KEY, JSON.stringify(queue));
    else store()?.removeItem(QUEUE_KEY);
  } catch {
    memoryQueue = queue; // quota: keep them for this page at least
  }
}

function collecting() {
  if (!options || !consent) return false; // consent not known yet: collect nothing
  return keeping() || (options.sendWhenDeclined && consent.status === "declined");
}

/** Apply what the server said; anything but "granted" removes the session id and queue. */
/** @param {Consent} next */
function adopt(next) {
  consent = next;
  if (next.status !== "granted" && next.status !== "unavailable") forget();
  return next;
}

/** Milliseconds left until `deadline` (at least 0). @param {number} deadline */
function left(deadline) {
  return Math.max(0, deadline - Date.now());
}

/**
 * Ask getToken for a fresh token, waiting at most `ms` (a token that never comes, as an MSAL call
 * waiting for a redirect can, must not hold the product). Keeps the last token otherwise.
 * @param {number} ms
 */
async function refreshToken(ms) {
  const getToken = options?.getToken;
  if (!getToken) return;
  let timer = 0;
  try {
    const fresh = await Promise.race([
      Promise.resolve().then(getToken),
      new Promise((resolve) => { timer = window.setTimeout(() => resolve(null), ms); }),
    ]);
    if (typeof fresh === "string" && fresh) token = fresh;
  } catch {
    /* keep the last token; the API answers 401 if it expired, and the events stay queued */
  } finally {
    clearTimeout(timer);
  }
}

/**
 * @typedef {object} Answer
 * @property {boolean} ok
 * @property {number} status
 * @property {number} retryAfterMs  From a Retry-After header (0 if none).
 * @property {any} body  The parsed JSON body, or null.
 */

/**
 * One API request, with the bearer token (or the cookie), aborted after `ms` (or by `controller`);
 * the answer's body is read within the same time. fetch() is called synchronously (so it works in a
 * pagehide handler). Rejects on a network error, the timeout or an abort (callers catch).
 * @param {string} path @param {RequestInit} init @param {number} ms
 * @param {AbortController} [controller]
 * @returns {Promise<Answer>}
 */
function request(path, init, ms, controller = new AbortController()) {
  if (!options) return Promise.reject(new Error("not initialised"));
  const base = options.fetchOptions;
  /** @type {Record<string, string>} */
  const headers = { ...(/** @type {Record<string, string>} */ (base.headers) || {}), ...(/** @type {Record<string, string>} */ (init.headers) || {}) };
  const bearer = options.auth === "bearer";
  if (bearer && token) headers.Authorization = `Bearer ${token}`;
  const timer = window.setTimeout(() => controller.abort(), ms);
  const outer = base.signal;
  if (outer) outer.aborted ? controller.abort() : outer.addEventListener("abort", () => controller.abort(), { once: true });
  return fetch(options.endpoint + path, {
    credentials: bearer ? "omit" : "include",
    ...base,
    ...init,
    headers,
    signal: controller.signal,
    referrerPolicy: "no-referrer", // the page URL (its query may hold an e-mail or a token) never leaves
  })
    .then(async (response) => {
      let body = null;
      try {
        body = JSON.parse(await response.text()); // still under the time limit
      } catch (error) {
        if (controller.signal.aborted) throw error; // the body hung: a timeout like any other
      }
      return { ok: response.ok, status: response.status, retryAfterMs: retryAfterMs(response), body };
    })
    .finally(() => clearTimeout(timer));
}

/** @param {Answer} answer @returns {Consent} */
function consentFrom(answer) {
  const body = answer.body;
  if (!answer.ok || !body || !["granted", "declined", "unset"].includes(body.status)) return UNAVAILABLE;
  return /** @type {Consent} */ (body);
}

function onPageHide() {
  void flush({ unloading: true });
}

function onVisibility() {
  if (document.visibilityState === "hidden") void flush({ unloading: true });
}

/**
 * Start the client. Reads the consent decision once for this page load; until it is known,
 * track() records nothing. Never throws or rejects, and resolves within `timeoutMs` (token and
 * answer): if the API cannot be reached or does not answer in time, to `{status: "unavailable"}`,
 * and the product goes on (a tab that said yes earlier keeps queuing, see the header).
 * @param {InitOptions} init
 * @returns {Promise<Consent>}
 */
export async function init(init) {
  try {
    consent = null;
    if (!init || typeof init.endpoint !== "string" || !init.endpoint) {
      options = null;
      consent = UNAVAILABLE;
      return UNAVAILABLE;
    }
    const getToken = typeof init.getToken === "function" ? init.getToken : null;
    options = {
      fetchOptions: {},
      maxBatch: 20,
      flushIntervalMs: 5000,
      maxQueue: 500,
      sendWhenDeclined: false,
      sameSite: false,
      ...init,
      timeoutMs: Math.max(1, Number(init.timeoutMs) || TIMEOUT_MS),
      getToken,
      auth: init.auth || (getToken ? "bearer" : "cookie"),
      endpoint: init.endpoint.replace(/\/+$/, ""),
    };
    options.maxBatch = Math.min(Math.max(1, Number(options.maxBatch) || 20), MAX_BATCH);
    if (!listening) {
      window.addEventListener("pagehide", onPageHide);
      document.addEventListener("visibilitychange", onVisibility);
      listening = true;
    }
    clearInterval(timer);
    timer = window.setInterval(() => void flush(), Math.max(250, Number(options.flushIntervalMs) || 5000));
    const known = await getConsent();
    // API unreachable, but this tab said yes earlier: keep queuing, ask again after a backoff.
    if (known.status === "unavailable" && collecting()) scheduleRetry();
    if (collecting() && readQueue().length) void flush(); // left over from the previous page
    return known;
  } catch {
    consent = UNAVAILABLE;
    return UNAVAILABLE;
  }
}

/** Read the caller's consent (and whether to show the dialog). Never rejects. @returns {Promise<Consent>} */
export async function getConsent() {
  if (!options) return UNAVAILABLE;
  const asked = decisions;
  /** @type {Consent} */
  let answer = UNAVAILABLE;
  try {
    const deadline = Date.now() + options.timeoutMs;
    await refreshToken(left(deadline));
    answer = consentFrom(await request("/consent", { method: "GET" }, left(deadline)));
  } catch {
    /* unavailable */
  }
  if (asked !== decisions && consent) return consent; // the user chose meanwhile: an older read does not undo it
  return adopt(answer);
}

/**
 * Record the user's choice under the policy version the dialog showed. Declining (or withdrawing)
 * removes the session id and the queue at once, before the server is even asked. Never rejects;
 * resolves to the stored consent, or to `{status: "unavailable"}` if it could not be stored (then
 * nothing is tracked either).
 * @param {boolean} granted
 * @param {string} policyVersion
 * @returns {Promise<Consent>}
 */
export async function setConsent(granted, policyVersion) {
  decisions += 1;
  const mine = decisions;
  if (!granted) {
    forget();
    if (consent) consent = { ...consent, status: "declined" };
  }
  if (!options) return UNAVAILABLE;
  /** @type {Consent} */
  let answer = UNAVAILABLE;
  try {
    const deadline = Date.now() + options.timeoutMs;
    await refreshToken(left(deadline));
    const stored = await request("/consent", {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ status: granted ? "granted" : "declined", policy_version: policyVersion }),
    }, left(deadline));
    answer = consentFrom(stored);
  } catch {
    /* unavailable */
  }
  if (mine !== decisions && consent) return consent; // a later choice wins over this one's answer
  return adopt(answer);
}

/**
 * Record that an action happened. Only the page path is taken from the location. Never throws.
 * @param {string} name  A registered event name, e.g. "app.launch".
 * @param {{app?: string}} [details]
 */
export function track(name, details = {}) {
  try {
    if (!collecting() || !options || typeof name !== "string") return;
    const granted = keeping();
    /** @type {AnalyticsEvent} */
    const event = {
      event_id: crypto.randomUUID(),
      name,
      // Declined + anonymous mode: the server keeps no session id, so none is kept here either.
      session_id: granted ? ensureSessionId() : crypto.randomUUID(),
      ts: new Date().toISOString(),
      page: window.location.pathname,
    };
    if (details && typeof details.app === "string" && details.app) event.app = details.app;
    const queue = readQueue();
    queue.push(event);
    writeQueue(queue.slice(-options.maxQueue));
    if (sendable(queue).length >= options.maxBatch) void flush(); // a batch in flight does not count
  } catch {
    /* analytics never breaks the product */
  }
}

/**
 * The first events of the queue that fit one request (100 events, 60 KiB, or `maxBytes` if less:
 * then none if the first does not fit), as sent (no marks).
 * @param {QueuedEvent[]} queue @param {number} [maxBytes] @returns {AnalyticsEvent[]}
 */
function nextBatch(queue, maxBytes = MAX_BODY_BYTES) {
  const batch = [];
  let bytes = 20;
  for (const { _until, ...event } of queue.slice(0, MAX_BATCH)) {
    bytes += JSON.stringify(event).length + 1;
    if (bytes > Math.min(maxBytes, MAX_BODY_BYTES) && (batch.length || maxBytes < MAX_BODY_BYTES)) break;
    batch.push(event);
  }
  return batch;
}

/** @param {Response} response */
function retryAfterMs(response) {
  const value = Number(response.headers.get("Retry-After"));
  return Number.isFinite(value) && value >= 0 ? Math.min(value, 3600) * 1000 : 0;
}

/** @param {number} [atLeastMs] */
function scheduleRetry(atLeastMs = 0) {
  backoffMs = Math.min(backoffMs ? backoffMs * 2 : 1000, 60000);
  retryAt = Date.now() + Math.max(backoffMs, atLeastMs);
}

/** @param {AnalyticsEvent[]} batch */
function confirm(batch) {
  const ids = new Set(batch.map((e) => e.event_id));
  writeQueue(readQueue().filter((e) => !ids.has(e.event_id)));
}

/** Whether a request carrying `event` may still be answered (then it is not sent again yet). @param {QueuedEvent} event */
function inFlight(event, now = Date.now()) {
  // a mark further ahead than one call's time limit is not ours to trust (a clock set back): ignore it
  return typeof event._until === "number" && event._until > now && event._until <= now + (options?.timeoutMs ?? TIMEOUT_MS);
}

/** The queued events no request in flight carries. @param {QueuedEvent[]} queue */
function sendable(queue) {
  const now = Date.now();
  return queue.filter((e) => !inFlight(e, now));
}

/**
 * Mark the batch's events as in flight until `until` (in the queue, so the next page of this tab
 * sees it too), or clear the mark (`until` 0: the request failed, they may go again).
 * @param {AnalyticsEvent[]} batch @param {number} until
 */
function mark(batch, until) {
  const ids = new Set(batch.map((e) => e.event_id));
  writeQueue(readQueue().map((e) => {
    if (!ids.has(e.event_id)) return e;
    const { _until, ...event } = e;
    return until ? { ...event, _until: until } : event;
  }));
}

let wake = 0;
/** Flush again when the earliest in-flight mark runs out (its request can no longer be answered). */
function wakeWhenMarksExpire() {
  clearTimeout(wake);
  const now = Date.now();
  const ends = readQueue().filter((e) => inFlight(e, now)).map((e) => /** @type {number} */ (e._until));
  if (ends.length) wake = window.setTimeout(() => void flush(), Math.min(...ends) - now + 50);
}

/**
 * POST one batch (keepalive: it outlives the page), aborted after `ms` or by a withdrawal, and mark
 * its events in flight for that time. fetch() is called synchronously. Resolves to the answer, or
 * null if none came (network, timeout, abort).
 * @param {AnalyticsEvent[]} batch @param {number} ms @returns {Promise<Answer|null>}
 */
function send(batch, ms) {
  mark(batch, Date.now() + ms);
  const controller = new AbortController();
  sending.add(controller);
  const body = JSON.stringify({ events: batch });
  keepaliveBytes += body.length;
  return request("/events", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body,
    keepalive: true,
  }, ms, controller)
    .catch(() => null)
    .finally(() => {
      sending.delete(controller);
      keepaliveBytes -= body.length;
    });
}

/**
 * Apply the answer to a batch: a 2xx confirms it (it leaves the queue), 429/5xx/401/403 or no
 * answer keep it and back off (Retry-After honoured), any other refusal (400/413/415) drops it, as
 * re-sending the same batch cannot help. Returns whether to go on sending.
 * @param {AnalyticsEvent[]} batch @param {Answer|null} answer
 */
function settle(batch, answer) {
  if (!answer) {
    // Network error or timeout: keep the events; their ids make the retry idempotent. A navigation
    // rejects the page's keepalive fetch just before pagehide although the request goes on, so the
    // in-flight mark is cleared only if this page is still there a moment later (its timers die
    // with it, and the mark then keeps the next page from sending the batch again too soon).
    const started = epoch;
    window.setTimeout(() => { if (started === epoch) mark(batch, 0); }, UNMARK_AFTER_MS);
    scheduleRetry();
    return false;
  }
  if (!answer.ok && isRetryable(answer.status)) mark(batch, 0); // answered, not stored: may go again
  if (answer.ok) {
    confirm(batch);
    backoffMs = 0;
    retryAt = 0;
    return true;
  }
  if (isRetryable(answer.status)) {
    scheduleRetry(answer.retryAfterMs); // keep them: later, or with a fresh token
    return false;
  }
  confirm(batch); // refused for good
  return true;
}

/** @param {number} status */
function isRetryable(status) {
  return status === 429 || status >= 500 || status === 401 || status === 403;
}

/** @type {Promise<void> | null} */
let flight = null; // the flush in progress: one batch in flight at a time
let again = false; // a flush was asked for while one was in progress: it runs when that one ends

/**
 * The flush in progress: send a batch, and another after its 2xx while more was asked for (or a
 * full batch is queued). Each batch is read from the queue after the token is there, so it holds
 * only events no 2xx has confirmed yet. Never rejects.
 */
async function drain() {
  try {
    for (;;) {
      again = false;
      if (!options || !collecting() || Date.now() < retryAt) return; // 429/503 asked us to wait
      if (!sendable(readQueue()).length) return;
      const started = epoch;
      if (consent?.status === "unavailable") {
        // a tab that said yes, whose consent could not be read: read it again before sending
        const known = await getConsent();
        if (started !== epoch) return;
        if (known.status === "unavailable") {
          scheduleRetry();
          return;
        }
        if (!collecting()) return; // declined elsewhere meanwhile: adopt() removed the queue
      }
      const deadline = Date.now() + options.timeoutMs;
      await refreshToken(left(deadline));
      if (started !== epoch || !collecting()) return; // withdrawn while waiting for the token: send nothing
      const batch = nextBatch(sendable(readQueue()));
      if (!batch.length) return;
      const answer = await send(batch, left(deadline) || 1);
      if (started !== epoch) return; // withdrawn meanwhile: the queue is gone, nothing to confirm
      if (!settle(batch, answer)) return;
      if (!again && sendable(readQueue()).length < options.maxBatch) return;
    }
  } catch {
    /* analytics never breaks the product */
  } finally {
    if (collecting()) wakeWhenMarksExpire(); // what is left may be in flight (perhaps from the previous page)
  }
}

/**
 * On unload: what is queued goes at once, without waiting for a token (the page is going), and even
 * during a backoff: a closing tab gets no later chance, and a refusal costs nothing more than a retry
 * would. As many batches as the browser's keepalive budget takes (64 KiB of request bodies in flight
 * per page, requests already in flight included); what does not fit stays queued for the next page.
 */
function flushUnloading() {
  if (!options || !collecting()) return;
  const started = epoch;
  for (;;) {
    // Not what a request in flight carries: pagehide and visibilitychange both fire on a navigation,
    // and a batch sent by one of them (or by a flush still waiting for its answer) goes once.
    const batch = nextBatch(sendable(readQueue()), MAX_BODY_BYTES - keepaliveBytes);
    if (!batch.length) return;
    // Never navigator.sendBeacon: a beacon carries the page URL as Referer (it takes no referrer
    // policy), and a keepalive fetch outlives the page just as well.
    void send(batch, options.timeoutMs).then((answer) => {
      if (started === epoch) settle(batch, answer); // the page may live on (a hidden tab)
    });
  }
}

/**
 * Send what is queued, one batch in flight at a time: a flush asked for while one is in progress
 * runs after it (the promise resolves when both are done). Events leave the queue only when a 2xx
 * confirms them. On unload (`{unloading: true}`) the events no request carries yet go at once in a
 * keepalive fetch and stay queued, marked in flight for `timeoutMs`: neither the other unload event
 * nor the next page sends them again before that; after it, the next page re-sends whatever no 2xx
 * confirmed (the server stores each event_id once), so an event goes out at most about twice.
 * Never rejects.
 * @param {{unloading?: boolean}} [how]
 * @returns {Promise<void>}
 */
export function flush(how = {}) {
  try {
    if (how && how.unloading) {
      flushUnloading();
      return Promise.resolve();
    }
    if (!options || !collecting()) return Promise.resolve();
    if (flight) {
      again = true;
      return flight;
    }
    const current = drain().then(() => {
      flight = null;
      return again ? flush() : undefined; // asked for after the loop's last look: run it now
    });
    flight = current;
    return current;
  } catch {
    return Promise.resolve();
  }
}

/** The consent read at init (null while it is loading). @returns {Consent|null} */
export function currentConsent() {
  return consent;
}
