// The web client in a real browser: Debian's Chromium driven by playwright-core, against the
// local host (`python -m tools.localhost`) and the Azurite it starts. What is stored is read back
// through the ops export route, as an operator would. A second, static server puts the demo page
// on another site (http://localhost:<port>) than the API (http://127.0.0.1:<port>), with
// third-party cookies blocked, as a Workspace page calling a separate analytics host would be. A
// recording proxy (http://127.0.0.1:<port>, forwarding to the local host) shows what the server
// receives, and plays a hanging or refusing API.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { freePort, launchBrowser, principal, serveStatic, startLocalHost, startProxy, waitFor } from "./harness.mjs";

let base, host, browser, site, staticServer, proxy, proxied;
const pageErrors = [];

async function stored(user) {
  const response = await fetch(`${base}/api/ops/export`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-MS-CLIENT-PRINCIPAL": principal("ops", ["Cetegra.Analytics.Operator"]) },
    body: JSON.stringify({ user_id: user, tenant_id: "demo-tenant" }),
  });
  assert.equal(response.status, 200);
  return (await response.json()).events;
}

async function open(context, user, query = "", origin = base) {
  const page = await context.newPage();
  const posts = [];
  page.on("request", (request) => {
    if (request.url().endsWith("/api/events") && request.method() === "POST") posts.push(request);
  });
  page.on("pageerror", (error) => pageErrors.push(error));
  await page.goto(`${origin}/?user=${user}${query}`);
  await page.waitForFunction(() => !document.querySelector("#consent").textContent.includes("loading"));
  return { page, posts };
}

/** Everything this origin has stored on the device, as the page itself can see it. */
const device = (page) =>
  page.evaluate(async () => ({
    session: Object.keys(sessionStorage).sort(),
    local: localStorage.length,
    indexedDB: (await indexedDB.databases()).length,
    caches: (await caches.keys()).length,
    cookies: document.cookie.split(";").map((c) => c.trim().split("=")[0]).filter(Boolean).sort(),
  }));
const NOTHING = { session: [], local: 0, indexedDB: 0, caches: 0 };
const nothingStored = async (page, cookies = ["AppServiceAuthSession"]) =>
  assert.deepEqual(await device(page), { ...NOTHING, cookies }); // the sign-in cookie is the product's
const queuedIds = (page) =>
  page.evaluate(() => JSON.parse(sessionStorage.getItem("cetegra.analytics.queue") || "[]").map((e) => e.event_id));

const queued = (page) => page.evaluate(() => JSON.parse(sessionStorage.getItem("cetegra.analytics.queue") || "[]").length);

before(async () => {
  const port = await freePort();
  const sitePort = await freePort();
  base = `http://127.0.0.1:${port}`;
  site = `http://localhost:${sitePort}`; // another site than 127.0.0.1: its requests to the API are cross-site
  staticServer = await serveStatic(sitePort);
  const proxyPort = await freePort();
  proxied = `http://127.0.0.1:${proxyPort}`;
  proxy = await startProxy(proxyPort, port);
  host = await startLocalHost(port, { CORS_ALLOWED_ORIGINS: `${base},${site},${proxied}` });
  browser = await launchBrowser(["--test-third-party-cookie-phaseout"]); // third-party cookies blocked, as browsers now do
});

after(async () => {
  await browser?.close();
  host?.kill("SIGTERM");
  staticServer?.close();
  proxy?.close();
  assert.deepEqual(pageErrors.map(String), [], "the client must never throw into the page");
});

test("first visit: unset, the dialog asks", async () => {
  const context = await browser.newContext();
  const { page, posts } = await open(context, "first-visit");
  assert.equal(await page.textContent("#consent"), "unset (ask)");
  assert.equal(await page.isVisible("dialog#dialog"), true); // modal: the page waits for a choice
  await page.evaluate(async () => { window.analytics.track("app.launch"); await window.analytics.flush(); });
  assert.equal(await queued(page), 0);
  assert.equal(posts.length, 0);
  await context.close();
});

test("nothing tracked while undecided is sent after a later yes", async () => {
  const context = await browser.newContext();
  const { page } = await open(context, "undecided-then-yes");
  await page.evaluate(() => { window.analytics.track("app.launch"); window.analytics.track("case.submitted"); });
  assert.equal(await queued(page), 0);
  await page.click("#accept");
  await page.click("#flush");
  await waitFor(async () => (await stored("undecided-then-yes")).length === 1);
  assert.deepEqual((await stored("undecided-then-yes")).map((e) => e.name), ["nav.page_view"]);
  await context.close();
});

test("accept: events land in Table Storage with a pseudonym, path only", async () => {
  const context = await browser.newContext();
  const { page } = await open(context, "accepts", "");
  await page.click("#accept");
  await page.click("#launch");
  await page.click("#flush");
  await waitFor(async () => (await stored("accepts")).length === 2);
  const events = await stored("accepts");
  assert.deepEqual(events.map((e) => e.name).sort(), ["app.launch", "nav.page_view"]);
  for (const event of events) {
    assert.equal(typeof event.pseudonym, "number");
    assert.equal(event.page, "/");
    assert.equal(event.app, "workspace");
  }
  await context.close();
});

test("decline: nothing stored, nothing sent", async () => {
  const context = await browser.newContext();
  const { page, posts } = await open(context, "declines");
  await page.click("#decline");
  await page.click("#launch");
  await page.click("#view");
  await page.click("#flush");
  assert.equal(await queued(page), 0);
  assert.equal(posts.length, 0);
  assert.equal((await stored("declines")).length, 0);
  await context.close();
});

test("withdraw: nothing more stored, also after a reload", async () => {
  const context = await browser.newContext();
  const { page, posts } = await open(context, "withdraws");
  await page.click("#accept");
  await page.click("#launch");
  await page.click("#flush");
  await waitFor(async () => (await stored("withdraws")).length === 2);
  await page.click("#settings");
  await page.click("#decline");
  const before = posts.length;
  await page.click("#launch");
  await page.reload();
  await page.waitForFunction(() => document.querySelector("#consent").textContent === "declined");
  await page.click("#launch");
  await page.click("#flush");
  assert.equal(await queued(page), 0);
  assert.equal(posts.length, before);
  assert.equal((await stored("withdraws")).length, 2);
  await context.close();
});

test("a second tab gets its own session id; a closed tab's id is gone", async () => {
  const context = await browser.newContext();
  const first = await open(context, "tabs");
  assert.equal(await first.page.textContent("#session"), "none"); // undecided: no id on the device
  await first.page.click("#accept");
  await first.page.waitForFunction(() => document.querySelector("#session").textContent !== "none");
  const second = await open(context, "tabs"); // granted: its page view creates this tab's own id
  const id1 = await first.page.textContent("#session");
  const id2 = await second.page.textContent("#session");
  assert.match(id1, /^[0-9a-f-]{36}$/);
  assert.notEqual(id1, id2);
  const cookies = await context.cookies();
  assert.deepEqual(cookies.map((c) => c.name), ["AppServiceAuthSession"]); // the session id is no cookie
  assert.equal(await first.page.evaluate(() => localStorage.length), 0);
  await first.page.close();
  const third = await open(context, "tabs");
  await third.page.waitForFunction(() => document.querySelector("#session").textContent !== "none");
  const ids = [id1, id2];
  assert.ok(!ids.includes(await third.page.textContent("#session")));
  await context.close();
});

test("a 503 keeps the events and delivers them later exactly once", async () => {
  const context = await browser.newContext();
  const { page } = await open(context, "retries", "&interval=300");
  let refused = 0;
  await page.route("**/api/events", async (route) => {
    if (refused < 2) {
      refused += 1;
      await route.fulfill({ status: 503, headers: { "Retry-After": "1" }, contentType: "application/json",
                            body: '{"error":{"code":"storage_unavailable","message":"table storage is unavailable"}}' });
    } else {
      await route.continue();
    }
  });
  await page.click("#accept");
  await page.click("#launch");
  await page.click("#launch");
  await waitFor(async () => refused === 2);
  assert.equal(await queued(page), 3); // kept through both refusals
  await waitFor(async () => (await queued(page)) === 0, 15000);
  const events = await stored("retries");
  assert.equal(events.length, 3);
  assert.equal(new Set(events.map((e) => e.event_id)).size, 3);
  await context.close();
});

test("same-origin cookie: the pagehide keepalive request delivers the last events", async () => {
  const context = await browser.newContext();
  const { page, posts } = await open(context, "leaves", "&batch=100&interval=600000");
  await page.click("#accept");
  await page.click("#launch");
  await page.click("#launch");
  assert.equal(await queued(page), 3);
  assert.equal(posts.length, 0);
  await page.goto("about:blank"); // pagehide: the queue leaves as a keepalive fetch (no beacon: it would carry a Referer)
  await waitFor(async () => (await stored("leaves")).length === 3);
  await context.close();
});

test("storage in each consent state: nothing before yes, everything gone at no", async () => {
  const context = await browser.newContext();
  const { page, posts } = await open(context, "states", "&batch=100&interval=600000");
  // unset: the dialog asks; tracking, flushing and reading the session id store nothing
  assert.equal(await page.textContent("#consent"), "unset (ask)");
  await nothingStored(page);
  await page.evaluate(async () => {
    window.analytics.track("app.launch");
    await window.analytics.flush();
    window.analytics.sessionId();
  });
  await nothingStored(page);
  assert.equal(await page.textContent("#session"), "none");
  // granted: now (and only now) a session id and the queue of unconfirmed events
  await page.click("#accept");
  await page.click("#launch");
  assert.deepEqual((await device(page)).session, ["cetegra.analytics.queue", "cetegra.analytics.session"]);
  await page.click("#flush");
  await waitFor(async () => (await device(page)).session.length === 1); // confirmed: queue gone, id kept
  assert.deepEqual((await device(page)).session, ["cetegra.analytics.session"]);
  // withdrawn: the id and the queue go at once, before any request returns
  await page.click("#launch");
  await page.click("#settings");
  await page.route("**/api/consent", async (route) => {
    await new Promise((r) => setTimeout(r, 500)); // the PUT is slow: removal must not wait for it
    await route.continue();
  });
  await page.click("#decline");
  await nothingStored(page);
  await page.waitForFunction(() => document.querySelector("#consent").textContent === "declined");
  await page.unroute("**/api/consent");
  await page.click("#launch");
  await page.click("#flush");
  await nothingStored(page);
  // declined, after a reload: still nothing
  await page.reload();
  await page.waitForFunction(() => document.querySelector("#consent").textContent === "declined");
  await page.click("#launch");
  await nothingStored(page);
  assert.equal((await stored("states")).length, 2); // accept's page view + the first launch
  assert.equal(posts.length, 1);
  await context.close();
});

test("init against a failing /consent resolves 'unavailable' and tracks nothing", async () => {
  for (const failure of ["500", "abort", "html"]) {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on("pageerror", (error) => pageErrors.push(error));
    const posts = [];
    page.on("request", (r) => { if (r.url().endsWith("/api/events")) posts.push(r); });
    await page.route("**/api/consent", (route) =>
      failure === "abort" ? route.abort("connectionrefused")
        : route.fulfill({ status: failure === "500" ? 500 : 200, contentType: "text/html", body: "<h1>oops</h1>" }));
    await page.goto(`${base}/?user=unavailable-${failure}&interval=300`);
    await page.waitForFunction(() => document.querySelector("#consent").textContent === "unavailable");
    const calls = await page.evaluate(async () => {
      const a = window.analytics;
      a.track("app.launch", { app: "workspace" });
      await a.flush();
      const granted = await a.setConsent(true, "2026-04"); // the PUT fails too: still nothing tracked
      a.track("app.launch");
      await a.flush({ unloading: true });
      return { granted: granted.status, current: a.currentConsent().status, session: a.sessionId() };
    });
    assert.deepEqual(calls, { granted: "unavailable", current: "unavailable", session: null });
    await new Promise((r) => setTimeout(r, 700));
    await nothingStored(page);
    assert.equal(posts.length, 0);
    await context.close();
  }
});

test("every public call is safe before init and with bad options", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on("pageerror", (error) => pageErrors.push(error));
  await page.goto(`${base}/client/cetegra-analytics.js`); // same origin, no demo page running
  const result = await page.evaluate(async (url) => {
    const a = await import(url);
    const out = { before: [a.sessionId(), a.currentConsent()] };
    a.track("app.launch");
    await a.flush();
    await a.flush({ unloading: true });
    out.getConsent = (await a.getConsent()).status;
    out.setConsent = (await a.setConsent(true, "2026-04")).status;
    out.noEndpoint = (await a.init(undefined)).status;
    out.badEndpoint = (await a.init({ endpoint: 42 })).status;
    out.unreachable = (await a.init({ endpoint: "http://127.0.0.1:9/api" })).status;
    a.track("app.launch");
    out.storage = sessionStorage.length + localStorage.length;
    return out;
  }, `${base}/client/cetegra-analytics.js`);
  assert.deepEqual(result, {
    before: [null, null], getConsent: "unavailable", setConsent: "unavailable",
    noEndpoint: "unavailable", badEndpoint: "unavailable", unreachable: "unavailable", storage: 0,
  });
  await context.close();
});

test("declined with sendWhenDeclined (anonymous mode): sent from memory, nothing on the device", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on("pageerror", (error) => pageErrors.push(error));
  const bodies = [];
  await page.route("**/api/consent", (route) => route.fulfill({ status: 200, contentType: "application/json",
    body: '{"status":"declined","policy_version":"2026-04","decided_at":"2026-11-23T12:00:00Z","reprompt":false}' }));
  await page.route("**/api/events", (route) => {
    bodies.push(JSON.parse(route.request().postData()));
    return route.fulfill({ status: 202, contentType: "application/json", body: '{"accepted":3,"dropped":0}' });
  });
  await page.goto(`${base}/client/cetegra-analytics.js`);
  const result = await page.evaluate(async (url) => {
    const a = await import(url);
    const consent = await a.init({ endpoint: "/api", sendWhenDeclined: true, maxBatch: 3, flushIntervalMs: 600000 });
    for (let i = 0; i < 3; i++) a.track("app.launch", { app: "workspace" });
    await new Promise((r) => setTimeout(r, 300));
    return { status: consent.status, session: a.sessionId(), stored: sessionStorage.length + localStorage.length };
  }, `${base}/client/cetegra-analytics.js`);
  assert.deepEqual(result, { status: "declined", session: null, stored: 0 });
  assert.equal(bodies.length, 1);
  const sessions = bodies[0].events.map((e) => e.session_id);
  assert.equal(new Set(sessions).size, 3); // no session id links them (the server drops it anyway)
  await context.close();
});

test("429: the events wait for Retry-After and are then stored exactly once", async () => {
  const context = await browser.newContext();
  const { page } = await open(context, "limited", "&interval=250");
  const hits = [];
  await page.route("**/api/events", async (route) => {
    hits.push(Date.now());
    if (hits.length === 1) {
      await route.fulfill({ status: 429, headers: { "Retry-After": "2" }, contentType: "application/json",
                            body: '{"error":{"code":"rate_limited","message":"more than 600 events per minute"}}' });
    } else {
      await route.continue();
    }
  });
  await page.click("#accept");
  await page.click("#launch");
  await page.click("#flush");
  await waitFor(async () => hits.length === 1);
  assert.equal(await queued(page), 2); // kept
  await waitFor(async () => (await stored("limited")).length === 2, 10000);
  assert.ok(hits[1] - hits[0] >= 1900, `re-sent after ${hits[1] - hits[0]} ms, before Retry-After`);
  assert.equal(new Set((await stored("limited")).map((e) => e.event_id)).size, 2);
  await context.close();
});

test("cross-site, third-party cookies blocked: the session cookie does not reach the API", async () => {
  const context = await browser.newContext();
  const user = "cross-site-cookie";
  // Even an API cookie set earlier (first-party, on the API's own site) is not sent from another site.
  await context.addCookies([{ name: "AppServiceAuthSession", value: Buffer.from(JSON.stringify({ auth_typ: "aad",
    claims: [{ typ: "oid", val: user }, { typ: "tid", val: "demo-tenant" }] })).toString("base64"),
    url: base, sameSite: "None" }]);
  const { page, posts } = await open(context, user, `&api=${encodeURIComponent(base + "/api")}&auth=cookie`, site);
  assert.equal(await page.textContent("#consent"), "unavailable"); // 401: the product carries on
  await page.evaluate(() => window.analytics.track("app.launch"));
  assert.deepEqual((await device(page)).session, []);
  assert.equal(posts.length, 0);
  await context.close();
});

test("cross-site with a bearer token: a navigation mid-batch stores every event exactly once", async () => {
  const context = await browser.newContext();
  const user = "cross-site-bearer";
  const query = `&api=${encodeURIComponent(base + "/api")}&auth=bearer&batch=100&interval=600000`;
  const sent = new Map(); // event_id → times it was POSTed (any page of this context)
  context.on("request", (request) => {
    if (request.url() === `${base}/api/events` && request.method() === "POST") {
      for (const e of JSON.parse(request.postData() || '{"events":[]}').events) sent.set(e.event_id, (sent.get(e.event_id) || 0) + 1);
    }
  });
  const first = await open(context, user, query, site);
  assert.equal(await first.page.textContent("#consent"), "unset (ask)"); // reached with the token
  assert.deepEqual(await context.cookies(base), []); // no cookie of the API's site at all
  await first.page.click("#accept");
  for (let i = 0; i < 30; i++) await first.page.click("#launch");
  const tracked = new Set(await queuedIds(first.page));
  assert.equal(tracked.size, 31);
  // A batch is in flight (keepalive) when the user navigates: pagehide sends the queue again and
  // the next page re-sends whatever no 2xx confirmed. The server keeps each event_id once.
  await first.page.evaluate(() => { void window.analytics.flush(); });
  await first.page.goto(`${site}/?user=${user}${query}`);
  await first.page.waitForFunction(() => document.querySelector("#consent").textContent === "granted");
  for (let i = 0; i < 5; i++) await first.page.click("#launch");
  await first.page.click("#flush");
  await waitFor(async () => (await queued(first.page)) === 0);
  const expected = tracked.size + 1 + 5; // the next page's own page view and its 5 launches
  await waitFor(async () => (await stored(user)).length >= expected);
  const events = await stored(user);
  const ids = events.map((e) => e.event_id);
  assert.equal(ids.length, expected, "every tracked event stored");
  assert.equal(new Set(ids).size, ids.length, "none stored twice");
  assert.ok([...tracked].every((id) => ids.includes(id)));
  assert.deepEqual(new Set(ids), new Set(sent.keys()));
  assert.ok([...sent.values()].some((n) => n >= 2), "the navigation made the client re-send (deduplicated)");
  assert.ok([...sent.values()].every((n) => n <= 2), "but no event more than twice");
  for (const event of events) assert.equal(typeof event.pseudonym, "number");
  await context.close();
});

// ---- The product page on another site (third-party cookies blocked), the API behind the
// recording proxy, a bearer getToken that takes 300 ms.

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const crossSite = (extra = "") =>
  `&api=${encodeURIComponent(proxied + "/api")}&auth=bearer&tokenDelay=300${extra}`;
/** Add a proxy rule for the duration of `body`. */
async function withRule(rule, body) {
  proxy.rules.push(rule);
  try {
    return await body();
  } finally {
    const at = proxy.rules.indexOf(rule);
    if (at >= 0) proxy.rules.splice(at, 1);
  }
}
/** Click Accept and wait for the PUT (with the slow token) to be answered. */
async function accept(page) {
  await page.click("#accept");
  await page.waitForFunction(() => document.querySelector("#consent").textContent === "granted");
}
const isEvents = (r) => r.method === "POST" && r.path === "/api/events";
/** The event ids of the POST /api/events requests the server received since request number `from`. */
const postsSince = (from) =>
  proxy.requests.slice(from).filter(isEvents).map((r) => JSON.parse(r.body).events.map((e) => e.event_id));

test("cross-site, slow token, hanging /consent: init() resolves 'unavailable' within its timeout", async () => {
  await withRule({ match: (r) => r.path === "/api/consent", hang: true }, async () => {
    // default timeout (5 s), a 1 s timeout, and a getToken that never resolves
    for (const [extra, limit] of [["", 7000], ["&timeout=1000", 2500], ["&tokenDelay=never&timeout=1000", 2500]]) {
      const context = await browser.newContext();
      const page = await context.newPage();
      page.on("pageerror", (error) => pageErrors.push(error));
      const started = Date.now();
      await page.goto(`${site}/?user=hangs${crossSite(extra)}`);
      const resolved = await page.waitForFunction(
        () => document.querySelector("#consent").textContent === "unavailable", null, { timeout: 10000 },
      ).then(() => true, () => false);
      assert.ok(resolved, `init() still pending after 10 s (${extra || "default timeout"})`);
      const took = Date.now() - started;
      assert.ok(took < limit, `init() resolved after ${took} ms (${extra || "default timeout"})`);
      await page.evaluate(() => window.analytics.track("app.launch"));
      assert.deepEqual((await device(page)).session, []);
      await context.close();
    }
  });
});

test("cross-site, slow token, hanging /events: flush() resolves within the timeout, the events stay queued", async () => {
  const context = await browser.newContext();
  const user = "hanging-events";
  const { page } = await open(context, user, crossSite("&timeout=1000&batch=100&interval=600000"), site);
  await accept(page);
  await page.click("#launch");
  const outcome = await withRule({ match: isEvents, hang: true }, () =>
    page.evaluate(async () => {
      const started = Date.now();
      const result = await Promise.race([window.analytics.flush().then(() => "resolved"),
                                         new Promise((r) => setTimeout(() => r("pending"), 6000))]);
      return { result, took: Date.now() - started };
    }));
  assert.equal(outcome.result, "resolved", "flush() still pending after 6 s against a hanging API");
  assert.ok(outcome.took < 2500, `flush() took ${outcome.took} ms`);
  assert.equal(await queued(page), 2); // kept for a later try
  await sleep(1500); // the backoff after the timeout
  await page.click("#flush");
  await waitFor(async () => (await stored(user)).length === 2);
  await context.close();
});

test("cross-site, slow token: a withdrawal 50 ms after flush() sends nothing", async () => {
  const context = await browser.newContext();
  const user = "withdraws-mid-flush";
  const { page } = await open(context, user, crossSite("&batch=100&interval=600000"), site);
  await accept(page);
  for (let i = 0; i < 3; i++) await page.click("#launch");
  assert.equal(await queued(page), 4);
  const from = proxy.requests.length;
  await page.evaluate(async () => {
    void window.analytics.flush(); // reads the queue, then waits 300 ms for the token
    await new Promise((r) => setTimeout(r, 50));
    await window.analytics.setConsent(false, "2026-04");
  });
  await sleep(1000);
  assert.deepEqual(postsSince(from), [], "events were sent after the withdrawal");
  assert.deepEqual(await stored(user), []);
  await nothingStored(page, []);
  await context.close();
});

test("cross-site, slow token: one batch in flight at a time; 10 track() with maxBatch 5 send each event once", async () => {
  const context = await browser.newContext();
  const user = "single-flight";
  const { page } = await open(context, user, crossSite("&batch=5&interval=600000"), site);
  await accept(page); // its page view is queued
  const from = proxy.requests.length;
  proxy.eventsMaxOpen = 0;
  await page.evaluate(() => { for (let i = 0; i < 10; i++) window.analytics.track("app.launch", { app: "workspace" }); });
  await waitFor(async () => (await queued(page)) === 0);
  await sleep(500);
  const posts = postsSince(from);
  const ids = posts.flat();
  assert.equal(ids.length, 11, `${posts.length} POSTs carried ${ids.length} events`);
  assert.equal(new Set(ids).size, 11);
  assert.equal(proxy.eventsMaxOpen, 1, "more than one batch in flight at once");
  assert.equal((await stored(user)).length, 11);
  await context.close();
});

test("cross-site: a tab closed while a retry is pending still delivers its queue", async () => {
  const context = await browser.newContext();
  const user = "closes-in-backoff";
  const { page } = await open(context, user, crossSite("&batch=100&interval=600000"), site);
  await accept(page);
  for (let i = 0; i < 5; i++) await page.click("#launch");
  const from = proxy.requests.length;
  proxy.rules.push({ match: isEvents, status: 503, headers: { "Retry-After": "30" }, times: 1 });
  await page.click("#flush");
  await waitFor(async () => postsSince(from).length === 1); // refused: the client waits 30 s
  assert.equal(await queued(page), 6);
  await page.close({ runBeforeUnload: true }); // the user closes the tab during the backoff
  await waitFor(async () => (await stored(user)).length === 6);
  await context.close();
});

test("cross-site: a tab closed in a backoff with more than one request's worth queued delivers all of it", async () => {
  const context = await browser.newContext();
  const user = "closes-with-a-long-queue";
  const { page } = await open(context, user, crossSite("&batch=100&interval=600000"), site);
  await accept(page);
  const from = proxy.requests.length;
  proxy.rules.push({ match: isEvents, status: 503, headers: { "Retry-After": "30" }, times: 1 });
  await page.click("#flush");
  await waitFor(async () => postsSince(from).length === 1); // refused: the client waits 30 s
  // the events pile up during the backoff: 250 of them, more than one request (100) carries
  await page.evaluate(() => { for (let i = 0; i < 249; i++) window.analytics.track("app.launch", { app: "workspace" }); });
  assert.equal(await queued(page), 250);
  const closing = proxy.requests.length;
  await page.close({ runBeforeUnload: true });
  await waitFor(async () => (await stored(user)).length === 250, 15000);
  const sent = postsSince(closing);
  assert.equal(sent.flat().length, 250, `${sent.length} POSTs carried ${sent.flat().length} events on unload`);
  assert.ok(sent.every((ids) => ids.length <= 100));
  await context.close();
});

test("cross-site: a page loaded during an outage keeps a granted tab's events and sends them later", async () => {
  const context = await browser.newContext();
  const user = "outage-reload";
  const { page } = await open(context, user, crossSite("&batch=100&interval=300"), site);
  await accept(page);
  await waitFor(async () => (await stored(user)).length === 1); // the page view
  // stored is not yet acknowledged: wait for the 2xx to reach the tab, or the reload keeps the page
  // view queued (sent again later and deduplicated by its id, but counted in the queue below)
  await waitFor(async () => (await queued(page)) === 0);
  const outage = { match: (r) => r.path.startsWith("/api/"), status: 503 };
  proxy.rules.push(outage);
  let never;
  try {
    await page.reload();
    await page.waitForFunction(() => document.querySelector("#consent").textContent === "unavailable");
    for (let i = 0; i < 4; i++) await page.click("#launch");
    assert.equal(await queued(page), 4, "the events of a tab that granted were dropped");
    // a tab that never granted stores and sends nothing, outage or not
    const other = await browser.newContext();
    never = { context: other, ...(await open(other, "outage-never", crossSite("&interval=300"), site)) };
    assert.equal(await never.page.textContent("#consent"), "unavailable");
    await never.page.click("#launch");
    await nothingStored(never.page, []);
    await sleep(1000);
  } finally {
    proxy.rules.splice(proxy.rules.indexOf(outage), 1);
  }
  await waitFor(async () => (await stored(user)).length === 5, 20000);
  assert.equal(await queued(page), 0);
  await sleep(1000);
  await nothingStored(never.page, []);
  assert.equal(never.posts.length, 0);
  assert.deepEqual(await stored("outage-never"), []);
  await never.context.close();
  await context.close();
});

test("cross-site: a tab held through an outage sends nothing once the API says consent was withdrawn elsewhere", async () => {
  const context = await browser.newContext();
  const user = "outage-withdrawn";
  const { page } = await open(context, user, crossSite("&batch=100&interval=300"), site);
  await accept(page);
  await waitFor(async () => (await stored(user)).length === 1);
  await waitFor(async () => (await queued(page)) === 0); // acknowledged, not only stored
  const outage = { match: (r) => r.path.startsWith("/api/"), status: 503 };
  proxy.rules.push(outage);
  try {
    await page.reload();
    await page.waitForFunction(() => document.querySelector("#consent").textContent === "unavailable");
    for (let i = 0; i < 3; i++) await page.click("#launch");
    assert.equal(await queued(page), 3);
    // meanwhile the user withdraws on another device (straight to the API, not through the outage)
    const withdrawn = await fetch(`${base}/api/consent`, { method: "PUT", headers: { "Content-Type": "application/json",
      "X-MS-CLIENT-PRINCIPAL": principal(user) }, body: JSON.stringify({ status: "declined", policy_version: "2026-04" }) });
    assert.equal(withdrawn.status, 200);
  } finally {
    proxy.rules.splice(proxy.rules.indexOf(outage), 1);
  }
  await waitFor(async () => (await page.evaluate(() => window.analytics.currentConsent().status)) === "declined", 20000);
  await nothingStored(page, []);
  assert.equal((await stored(user)).length, 1);
  await context.close();
});

test("no Referer reaches the API: a page URL with a query, same-origin and cross-site, in page and on unload", async () => {
  const secret = "&email=alice%40contoso.com&token=s3cr3t";
  for (const [user, origin, extra] of [["referrer-same", proxied, ""], ["referrer-cross", site, crossSite()]]) {
    const context = await browser.newContext();
    const from = proxy.requests.length;
    const { page } = await open(context, user, `${secret}${extra}&batch=100&interval=600000`, origin);
    await accept(page);
    await page.click("#launch");
    await page.click("#flush");
    await waitFor(async () => (await stored(user)).length === 2);
    await page.click("#launch");
    await page.goto("about:blank"); // the last event leaves on pagehide
    await waitFor(async () => (await stored(user)).length === 3);
    const api = proxy.requests.slice(from).filter((r) => r.path.startsWith("/api/") && r.method !== "OPTIONS");
    assert.ok(api.filter(isEvents).length >= 2 && api.some((r) => r.method === "PUT"), JSON.stringify(api.map((r) => r.method)));
    for (const r of api) assert.equal(r.headers.referer, undefined, `${r.method} ${r.path} from ${origin} carried Referer ${r.headers.referer}`);
    await context.close();
  }
});

test("cross-site, slow token: a navigation sends each event at most twice", async () => {
  const context = await browser.newContext();
  const user = "navigates";
  const query = crossSite("&batch=100&interval=600000");
  const { page } = await open(context, user, query, site);
  await accept(page);
  await page.evaluate(() => { for (let i = 0; i < 64; i++) window.analytics.track("app.launch", { app: "workspace" }); });
  const tracked = new Set(await queuedIds(page));
  assert.equal(tracked.size, 65);
  const from = proxy.requests.length;
  // a batch in flight (its answer comes late) when the user navigates; pagehide and visibilitychange follow
  proxy.rules.push({ match: isEvents, delay: 1500, times: 1 });
  await page.evaluate(() => { void window.analytics.flush(); });
  await waitFor(async () => postsSince(from).length === 1);
  await page.goto(`${site}/?user=${user}${query}`);
  await page.waitForFunction(() => document.querySelector("#consent").textContent === "granted");
  await page.evaluate(() => { for (let i = 0; i < 5; i++) window.analytics.track("app.launch", { app: "workspace" }); });
  await page.goto(`${site}/?user=${user}${query}`); // a second navigation, nothing in flight
  await page.waitForFunction(() => document.querySelector("#consent").textContent === "granted");
  await page.click("#flush");
  const expected = 65 + 6 + 1; // page 1's; page 2's view and 5 launches; page 3's view
  await waitFor(async () => (await queued(page)) === 0, 20000);
  await waitFor(async () => (await stored(user)).length >= expected);
  const sent = new Map();
  for (const id of postsSince(from).flat()) sent.set(id, (sent.get(id) || 0) + 1);
  const most = Math.max(...sent.values());
  const total = [...sent.values()].reduce((a, b) => a + b, 0);
  assert.ok(most <= 2, `an event went out ${most} times (${total} sends for ${expected} events)`);
  assert.ok(total <= 2 * expected, `${total} sends for ${expected} events`);
  const ids = (await stored(user)).map((e) => e.event_id);
  assert.equal(ids.length, expected);
  assert.equal(new Set(ids).size, expected);
  assert.ok([...tracked].every((id) => ids.includes(id)));
  assert.deepEqual(new Set(ids), new Set(sent.keys()));
  await context.close();
});
