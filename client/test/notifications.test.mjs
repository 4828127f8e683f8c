// Notifications and surveys in a real browser: Debian's Chromium driven by playwright-core, against
// the local host (`python -m tools.localhost`) and its Azurite. Items are created through the
// authoring routes as an author would; what is stored is read back through the ops export route.
// Each test targets its own app id, so tests sharing the host never see each other's items. As
// in browser.test.mjs, a second site (http://localhost:<port>) serves the module to call the API
// cross-site with third-party cookies blocked, through a recording proxy that can hold requests.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { freePort, launchBrowser, principal, serveStatic, startLocalHost, startProxy, waitFor } from "./harness.mjs";

const K = 2; // AGGREGATE_MIN_USERS of this host: small, so two answers show their comments
let base, host, browser, site, staticServer, proxy, proxied;
const pageErrors = [];

const AUTHOR = principal("author", ["Cetegra.Analytics.Author"]);
const OPS = principal("ops", ["Cetegra.Analytics.Operator"]);

async function api(method, path, who, body) {
  const response = await fetch(`${base}/api${path}`, {
    method,
    headers: { "Content-Type": "application/json", "X-MS-CLIENT-PRINCIPAL": who },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function publish(fields) {
  const now = Date.now();
  const created = await api("POST", "/authoring/items", AUTHOR, {
    kind: "notification",
    title: "Saved searches",
    body: "Save any search and find it again.",
    starts_at: new Date(now - 3600_000).toISOString(),
    ends_at: new Date(now + 7 * 86400_000).toISOString(),
    ...fields,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const published = await api("PATCH", `/authoring/items/${created.body.id}`, AUTHOR, { status: "published" });
  assert.equal(published.status, 200);
  return published.body;
}

async function exported(user, tenant = "demo-tenant") {
  const response = await api("POST", "/ops/export", OPS, { user_id: user, tenant_id: tenant });
  assert.equal(response.status, 200);
  return response.body.notifications;
}

async function open(context, query) {
  const page = await context.newPage();
  page.on("pageerror", (error) => pageErrors.push(error));
  await page.goto(`${base}/client/demo/notifications.html?${query}`);
  await page.waitForFunction(() => document.body.dataset.ready === "true");
  return page;
}

const centreTitles = (page) => page.$$eval("#centre .title", (nodes) => nodes.map((n) => n.textContent));

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const sitePort = await freePort();
  site = `http://localhost:${sitePort}`; // another site than the API's
  staticServer = await serveStatic(sitePort);
  const proxyPort = await freePort();
  proxied = `http://127.0.0.1:${proxyPort}`;
  proxy = await startProxy(proxyPort, port);
  // exact mode (the test kit's RELEASE_NOISE=false): two answers make a shown count, so the
  // results below can be compared; the noise itself is tested in tests/test_privacy_releases.py
  host = await startLocalHost(port, { CORS_ALLOWED_ORIGINS: `${base},${site}`, AGGREGATE_MIN_USERS: String(K), RELEASE_NOISE: "false" });
  browser = await launchBrowser(["--test-third-party-cookie-phaseout"]); // third-party cookies blocked
});

after(async () => {
  await browser?.close();
  host?.kill("SIGTERM");
  staticServer?.close();
  proxy?.close();
  assert.deepEqual(pageErrors.map(String), [], "the demo and the client must never throw into the page");
});

const unreadIds = (page) => page.$$eval('#centre li[data-unread="true"]', (nodes) => nodes.map((n) => n.dataset.id));

test("the feed: a notification is new once, then stays read (after a reload, in a new tab or browser) until dismissed", async () => {
  const item = await publish({ title: "Appears once", audience: { apps: ["once"] } });
  const context = await browser.newContext();
  const page = await open(context, "user=once-user&app=once");
  assert.deepEqual(await centreTitles(page), ["Appears once"]);
  assert.deepEqual(await unreadIds(page), [item.id]);
  assert.equal(await page.textContent("#count"), "1");
  await waitFor(async () => (await exported("once-user")).state.some((s) => s.item === item.id && s.seen_at));
  await page.reload();
  await page.waitForFunction(() => document.body.dataset.ready === "true");
  assert.deepEqual(await centreTitles(page), ["Appears once"]); // still in the feed, read
  assert.deepEqual(await unreadIds(page), []);
  assert.equal(await page.textContent("#count"), "0");
  const tab = await open(context, "user=once-user&app=once");
  assert.deepEqual(await unreadIds(tab), []);
  const fresh = await browser.newContext(); // no local state at all: the server remembers
  assert.deepEqual(await unreadIds(await open(fresh, "user=once-user&app=once")), []);
  const elsewhere = await browser.newContext();
  assert.deepEqual(await unreadIds(await open(elsewhere, "user=once-other&app=once")), [item.id]);
  const feed = await page.evaluate(() => window.notifications.feed());
  assert.deepEqual([feed.unread, feed.items.map((i) => [i.id, i.seen])], [0, [[item.id, true]]]);
  await page.click("#centre .dismiss");
  await waitFor(async () => (await centreTitles(page)).length === 0);
  await page.reload();
  await page.waitForFunction(() => document.body.dataset.ready === "true");
  assert.deepEqual(await centreTitles(page), []);
  assert.equal(await page.isVisible("#empty"), true);
  await context.close();
  await fresh.close();
  await elsewhere.close();
});

test("languages: the client sends the preferred language; the item's default otherwise", async () => {
  await publish({ title: "Saved searches", audience: { apps: ["lang"] },
    translations: { nb: { title: "Lagrede søk", body: "Lagre et søk." } } });
  const context = await browser.newContext();
  const nb = await open(context, "user=lang-user&app=lang&lang=nb-NO");
  assert.deepEqual(await centreTitles(nb), ["Lagrede søk"]);
  assert.equal(await nb.getAttribute("#centre li", "lang"), "nb");
  const sv = await open(context, "user=lang-user&app=lang&lang=sv");
  assert.deepEqual(await centreTitles(sv), ["Saved searches"]);
  await context.close();
});

test("opening a notification's link is reported once (reach: link opened)", async () => {
  const item = await publish({ title: "With a link", link: "/docs/saved-searches", audience: { apps: ["open"] } });
  const context = await browser.newContext();
  const page = await open(context, "user=open-user&app=open");
  await page.$eval("#centre a.link", (a) => {
    a.addEventListener("click", (event) => event.preventDefault()); // stay on the page
    a.click();
  });
  await waitFor(async () => (await exported("open-user")).state.some((s) => s.item === item.id && s.opened_at));
  await context.close();
});

test("the demo sets the session cookie only when it signs in with it (?auth=cookie), never with a bearer token", async () => {
  await publish({ title: "Signed in by token", audience: { apps: ["bearer"] } });
  const tokenContext = await browser.newContext();
  const page = await open(tokenContext, "user=bearer-user&app=bearer&auth=bearer");
  assert.deepEqual(await centreTitles(page), ["Signed in by token"]); // the bearer token alone signs in
  assert.deepEqual(await tokenContext.cookies(), []);
  assert.equal(await page.evaluate(() => document.cookie), "");
  await tokenContext.close();
  const cookieContext = await browser.newContext();
  await open(cookieContext, "user=cookie-user&app=bearer");
  assert.deepEqual((await cookieContext.cookies()).map((c) => c.name), ["AppServiceAuthSession"]);
  await cookieContext.close();
});

test("dismissing in one tab closes the prompt in the other open tab", async () => {
  await publish({ kind: "survey", title: "Two tabs", link: null, audience: { apps: ["tabs"] },
    question: { type: "nps", text: "Recommend us?" } });
  const context = await browser.newContext();
  const first = await open(context, "user=tabs-user&app=tabs");
  const second = await open(context, "user=tabs-user&app=tabs");
  assert.equal(await second.isVisible("dialog#survey"), true);
  await first.click("#survey-dismiss");
  await waitFor(async () => !(await second.isVisible("dialog#survey")));
  assert.equal(await first.isVisible("dialog#survey"), false);
  await context.close();
});

test("the NPS prompt: the answer is stored once, a second answer replaces it", async () => {
  const survey = await publish({ kind: "survey", title: "Quick question", link: null, audience: { apps: ["nps"] },
    question: { type: "nps", text: "How likely are you to recommend Cetegra Workspace?" } });
  const context = await browser.newContext();
  const page = await open(context, "user=nps-user&app=nps");
  assert.equal(await page.isVisible("dialog#survey"), true);
  assert.equal(await page.textContent("#survey-question"), "How likely are you to recommend Cetegra Workspace?");
  assert.equal(await page.$$eval("#survey-scale button", (b) => b.length), 11);
  await page.click('#survey-scale button[data-value="8"]');
  await page.fill("#survey-comment", "Search is fast");
  await page.click("#survey-send");
  await waitFor(async () => !(await page.isVisible("dialog#survey")));
  let stored = await exported("nps-user");
  assert.deepEqual(stored.answers.map((a) => [a.item, a.value, a.comment]), [[survey.id, 8, "Search is fast"]]);
  const again = await page.evaluate((id) => window.notifications.answer(id, 10, ""), survey.id);
  assert.deepEqual(again, { ok: true });
  stored = await exported("nps-user");
  assert.deepEqual(stored.answers.map((a) => [a.value, a.comment]), [[10, null]]);
  await page.reload();
  await page.waitForFunction(() => document.body.dataset.ready === "true");
  assert.equal(await page.isVisible("dialog#survey"), false);
  await context.close();
});

test("'Not now' asks again on the next visit; 'Don't ask again' never", async () => {
  await publish({ kind: "survey", title: "Rate it", link: null, audience: { apps: ["later"] },
    question: { type: "rating", text: "How is the new search?" } });
  const context = await browser.newContext();
  const page = await open(context, "user=later-user&app=later");
  await page.click("#survey-later");
  await page.reload();
  await page.waitForFunction(() => document.body.dataset.ready === "true");
  assert.equal(await page.isVisible("dialog#survey"), true);
  assert.equal(await page.$$eval("#survey-scale button", (b) => b.length), 5);
  await page.click("#survey-dismiss");
  await waitFor(async () => !(await page.isVisible("dialog#survey")));
  const tab = await open(context, "user=later-user&app=later");
  assert.equal(await tab.isVisible("dialog#survey"), false);
  assert.deepEqual((await exported("later-user")).answers, []);
  await context.close();
});

test("audience: another tenant or user type sees nothing", async () => {
  const contexts = [];
  const as = async (query) => {
    const context = await browser.newContext(); // one user per context: one session cookie each
    contexts.push(context);
    return open(context, query);
  };
  await publish({ title: "Everyone here", audience: { apps: ["aud-probe"] } });
  await as("user=aud-admin&tenant=tenant-a&role=Cetegra.ITAdmin&app=aud-probe");
  // authors target a tenant by its stable key, as the tenant directory returns it (and reports list it)
  const named = await api("PUT", "/ops/tenants/tenant-a", OPS, { name: "Tenant A" });
  assert.equal(named.status, 200, JSON.stringify(named.body));
  const tenantKey = named.body.tenant;
  await publish({ title: "Admins of tenant A", audience: { apps: ["aud"], tenants: [tenantKey], user_types: ["it_admin"] } });
  assert.deepEqual(await centreTitles(await as("user=aud-admin&tenant=tenant-a&role=Cetegra.ITAdmin&app=aud")),
    ["Admins of tenant A"]);
  assert.deepEqual(await centreTitles(await as("user=aud-basic&tenant=tenant-a&app=aud")), []);
  assert.deepEqual(await centreTitles(await as("user=aud-other&tenant=tenant-b&role=Cetegra.ITAdmin&app=aud")), []);
  assert.deepEqual(await centreTitles(await as("user=aud-admin2&tenant=tenant-a&role=Cetegra.ITAdmin&app=other")), []);
  for (const context of contexts) await context.close();
});

test("hostile markup in titles, bodies and comments stays text", async () => {
  const title = '<img src=x onerror="window.__pwned=1">';
  const body = '<script>window.__pwned=2</script><b>bold</b>\n<a href="javascript:window.__pwned=3">x</a>';
  const refused = await api("POST", "/authoring/items", AUTHOR, {
    kind: "notification", title: "t", link: "javascript:window.__pwned=4",
    starts_at: new Date().toISOString(), ends_at: new Date(Date.now() + 86400_000).toISOString() });
  assert.equal(refused.status, 400);
  assert.equal(refused.body.error.field, "link");
  await publish({ title, body, audience: { apps: ["hostile"] } });
  // opened three days ago, ending tomorrow: its first scheduled snapshot (a quarter into the
  // window) is due, so the results below are released
  const survey = await publish({ kind: "survey", title, link: null, audience: { apps: ["hostile"] },
    starts_at: new Date(Date.now() - 3 * 86400_000).toISOString(), ends_at: new Date(Date.now() + 86400_000).toISOString(),
    question: { type: "choice", text: "<i>Which?</i>", options: ["<b>A</b>", "<img src=y onerror=window.__pwned=5>"] } });
  const context = await browser.newContext();
  const page = await open(context, "user=hostile-user&app=hostile");
  assert.deepEqual(await centreTitles(page), [title]);
  assert.equal(await page.textContent("#centre .body"), body);
  assert.equal(await page.$$eval("#centre img, #centre b, #centre script, #survey img, #survey b, #survey i",
    (n) => n.length), 0);
  assert.equal(await page.$$eval("#centre a", (n) => n.length), 0); // no link: the body's <a> is text
  assert.deepEqual(await page.$$eval("#survey-scale button", (b) => b.map((x) => x.textContent)),
    ["<b>A</b>", "<img src=y onerror=window.__pwned=5>"]);
  await page.click('#survey-scale button[data-value="<b>A</b>"]');
  await page.fill("#survey-comment", "<script>window.__pwned=6</script>");
  await page.click("#survey-send");
  await waitFor(async () => !(await page.isVisible("dialog#survey")));
  const second = await browser.newContext();
  const other = await open(second, "user=hostile-2&app=hostile");
  await other.click('#survey-scale button[data-value="<b>A</b>"]');
  await other.fill("#survey-comment", "<img src=z onerror=window.__pwned=7>");
  await other.click("#survey-send");
  await waitFor(async () => !(await other.isVisible("dialog#survey")));
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.equal(await other.evaluate(() => window.__pwned), undefined);
  const results = await api("GET", `/authoring/items/${survey.id}/results`, AUTHOR);
  assert.equal(results.status, 200);
  assert.equal(results.body.answers, 2);
  // every option is a key of the release; one nobody chose is hidden (null), never 0
  assert.deepEqual(results.body.distribution, { "<b>A</b>": 2, "<img src=y onerror=window.__pwned=5>": null });
  assert.deepEqual(results.body.comments.map((c) => c.text).sort(),
    ["<img src=z onerror=window.__pwned=7>", "<script>window.__pwned=6</script>"]);
  await context.close();
  await second.close();
});

test("declined analytics: notifications still arrive; the client never throws", async () => {
  const context = await browser.newContext();
  const page = await open(context, "user=declines&app=declined");
  const declined = await page.evaluate(async () => (await fetch("/api/consent", {
    method: "PUT", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ status: "declined", policy_version: "2026-04" }) })).status);
  assert.equal(declined, 200);
  await publish({ title: "For everyone", audience: { apps: ["declined"] } });
  await page.click("#refresh");
  await waitFor(async () => (await centreTitles(page)).length === 1);
  const failures = await page.evaluate(async () => {
    const n = window.notifications;
    const missing = await n.seen("0123456789abcdef0123456789abcdef");
    const bad = await n.answer("0123456789abcdef0123456789abcdef", 5, "x".repeat(501));
    n.init({ endpoint: "http://127.0.0.1:9/api" }); // nothing listens there
    return { missing, bad, offline: await n.pending(), offlineSeen: await n.dismiss("x") };
  });
  assert.equal(failures.missing.ok, false);
  assert.equal(failures.missing.status, 404);
  assert.equal(failures.bad.status, 400);
  assert.equal(failures.bad.error.field, "comment");
  assert.deepEqual(failures.offline, []);
  assert.deepEqual(failures.offlineSeen, { ok: false, status: 0, error: null });
  await context.close();
});

// ---- The module on another site, a bearer getToken that takes 300 ms.

/** A page of the second site that has imported the module as `window.n` (no demo, no CSP). */
async function crossSitePage(context) {
  const page = await context.newPage();
  page.on("pageerror", (error) => pageErrors.push(error));
  await page.goto(`${site}/client/cetegra-notifications.js`);
  await page.evaluate(async (url) => { window.n = await import(url); }, `${site}/client/cetegra-notifications.js`);
  return page;
}

test("init() without or with bad options never throws; the calls then resolve [] or {ok: false}", async () => {
  const context = await browser.newContext();
  const page = await crossSitePage(context);
  const result = await page.evaluate(async () => {
    const out = {};
    for (const [name, options] of [["none", undefined], ["null", null], ["number", 42], ["no endpoint", {}],
                                   ["bad endpoint", { endpoint: 42 }], ["bad token", { endpoint: "/api", getToken: 7 }]]) {
      try {
        window.n.init(options);
        out[name] = { pending: await window.n.pending(), seen: await window.n.seen("x") };
      } catch (error) {
        out[name] = String(error);
      }
    }
    return out;
  });
  const nothing = { pending: [], seen: { ok: false, status: 0, error: null } };
  for (const name of ["none", "null", "number", "no endpoint", "bad endpoint"]) assert.deepEqual(result[name], nothing, name);
  assert.deepEqual(result["bad token"].pending, []); // /api of the static site: 404, still no throw
  await context.close();
});

test("cross-site, third-party cookies blocked: a bearer getToken (300 ms) brings the items; no cookie, no Referer", async () => {
  const item = await publish({ title: "Across sites", audience: { apps: ["cross"] } });
  const context = await browser.newContext();
  const page = await crossSitePage(context);
  const from = proxy.requests.length;
  const result = await page.evaluate(async ({ api, token }) => {
    window.n.init({ endpoint: api, app: "cross",
                    getToken: () => new Promise((resolve) => setTimeout(() => resolve(token), 300)) });
    const items = await window.n.pending();
    return { titles: items.map((i) => i.title), seen: await window.n.seen(items[0]?.id ?? "none") };
  }, { api: `${proxied}/api`, token: principal("cross-user") });
  assert.deepEqual(result, { titles: ["Across sites"], seen: { ok: true } });
  await waitFor(async () => (await exported("cross-user")).state.some((s) => s.item === item.id && s.seen_at));
  const calls = proxy.requests.slice(from).filter((r) => r.method !== "OPTIONS");
  assert.deepEqual(calls.map((r) => r.method), ["GET", "POST"]);
  for (const r of calls) {
    assert.equal(r.headers.authorization, `Bearer ${principal("cross-user")}`);
    assert.equal(r.headers.cookie, undefined);
    assert.equal(r.headers.referer, undefined, `${r.method} ${r.path} carried Referer ${r.headers.referer}`);
  }
  assert.equal(calls[1].headers["content-type"], "application/json");
  assert.equal(calls[1].body, "{}");
  assert.deepEqual(await context.cookies(), []);
  await context.close();
});

test("cross-site, slow token, hanging API: pending() resolves [] and seen() {ok: false, status: 0} within the timeout", async () => {
  const hang = { match: (r) => r.path.startsWith("/api/notifications"), hang: true };
  proxy.rules.push(hang);
  try {
    const context = await browser.newContext();
    const page = await crossSitePage(context);
    const result = await page.evaluate(async ({ api, token }) => {
      const race = (promise) => Promise.race([promise, new Promise((r) => setTimeout(() => r("still pending"), 9000))]);
      const slow = () => new Promise((resolve) => setTimeout(() => resolve(token), 300));
      const timed = async (call) => {
        const started = Date.now();
        const value = await race(call());
        return { value, ms: Date.now() - started };
      };
      window.n.init({ endpoint: api, getToken: slow, timeoutMs: 1000 });
      const short = { pending: await timed(() => window.n.pending()), answer: await timed(() => window.n.answer("x", 5)) };
      window.n.init({ endpoint: api, getToken: slow }); // the default: 5 s
      const dflt = await timed(() => window.n.pending());
      window.n.init({ endpoint: api, getToken: () => new Promise(() => {}), timeoutMs: 1000 }); // a token that never comes
      const noToken = await timed(() => window.n.dismiss("x"));
      return { short, dflt, noToken };
    }, { api: `${proxied}/api`, token: principal("hang-user") });
    assert.deepEqual(result.short.pending.value, []);
    assert.ok(result.short.pending.ms < 2500, `pending() took ${result.short.pending.ms} ms`);
    assert.deepEqual(result.short.answer.value, { ok: false, status: 0, error: null });
    assert.ok(result.short.answer.ms < 2500, `answer() took ${result.short.answer.ms} ms`);
    assert.deepEqual(result.dflt.value, []);
    assert.ok(result.dflt.ms >= 4500 && result.dflt.ms < 7000, `pending() with the default timeout took ${result.dflt.ms} ms`);
    assert.deepEqual(result.noToken.value, { ok: false, status: 0, error: null });
    assert.ok(result.noToken.ms < 2500, `dismiss() took ${result.noToken.ms} ms`);
    await context.close();
  } finally {
    proxy.rules.splice(proxy.rules.indexOf(hang), 1);
  }
});

test("the demo: answering and dismissing surveys throws nothing and logs no console error", async () => {
  await publish({ kind: "survey", title: "Answer me", link: null, audience: { apps: ["demo-errors"] },
    question: { type: "nps", text: "Recommend us?" } });
  await publish({ kind: "survey", title: "Dismiss me", link: null, audience: { apps: ["demo-errors"] },
    question: { type: "nps", text: "Recommend the search?" } }); // either may come first
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(`pageerror: ${error}`));
  page.on("console", (message) => {
    // the browser's own favicon request (the demo has none, and its CSP refuses a data: icon) is no page error
    if (message.type() === "error" && !message.location().url.endsWith("/favicon.ico")) problems.push(`console: ${message.text()} ${message.location().url}`);
  });
  await page.goto(`${base}/client/demo/notifications.html?user=demo-errors&app=demo-errors&auth=bearer`);
  await page.waitForFunction(() => document.body.dataset.ready === "true");
  await page.click('#survey-scale button[data-value="9"]');
  await page.click("#survey-send");
  await waitFor(async () => !(await page.isVisible("dialog#survey")));
  await page.click("#refresh"); // the other survey
  await page.waitForFunction(() => document.querySelector("#survey").open);
  await page.click("#survey-dismiss");
  await waitFor(async () => !(await page.isVisible("dialog#survey")));
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(problems, []);
  assert.equal((await exported("demo-errors")).answers.length, 1);
  await context.close();
});
