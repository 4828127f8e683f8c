// The report page (`/reports/`) in headless Chromium. The page is served by the Azure Function's
// own handler (reports_server.py → functions/reports_page.serve), so the CSP and headers in force
// are the ones Azure sends; `/api/reports/*` is answered in the browser (page.route) with the
// contract-shaped fixture of reports-fixture.mjs. Screenshots go to client/test/artifacts/.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, launchBrowser, PYTHON, ROOT } from "./harness.mjs";
import * as fx from "./reports-fixture.mjs";

const ARTIFACTS = join(ROOT, "client/test/artifacts");
const AXE = readFileSync(join(ROOT, "node_modules/axe-core/axe.min.js"), "utf8");
const LOCALE = "en-GB";
const int = (n) => new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 0 }).format(n);
const pct = (x) => new Intl.NumberFormat(LOCALE, { style: "percent", maximumFractionDigits: 1 }).format(x);
const HASH = `#from=${fx.RANGE.from}&to=${fx.RANGE.to}`;
let base, server, browser;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(PYTHON, [join(ROOT, "client/test/reports_server.py"), String(port)], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  server.stderr.on("data", (chunk) => { log += chunk; });
  await new Promise((resolve, reject) => {
    server.stdout.on("data", (chunk) => String(chunk).includes("ready") && resolve());
    server.on("exit", (code) => reject(new Error(`report page server exited ${code}:\n${log}`)));
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
});

/**
 * A page on the report route with the API intercepted. `api(url, accept)` may override the
 * fixture's answer. Collects API requests, CSP violations, page errors and dialogs.
 */
async function openReports(hash = HASH, { api, width = 1360 } = {}) {
  const context = await browser.newContext({ locale: LOCALE, timezoneId: "Europe/Oslo", viewport: { width, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  const seen = { requests: [], violations: [], errors: [], dialogs: [] };
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`));
  });
  page.on("pageerror", (error) => seen.errors.push(String(error)));
  page.on("console", (message) => message.type() === "error" && seen.errors.push(message.text()));
  page.on("dialog", (dialog) => { seen.dialogs.push(dialog.message()); dialog.dismiss(); });
  await page.route("**/api/reports/**", async (route) => {
    const request = route.request();
    const accept = request.headers().accept || "";
    seen.requests.push({ url: new URL(request.url()), accept });
    const custom = api ? await api(request.url(), accept) : null;
    const { status, headers, body } = custom || fx.answer(request.url(), accept);
    await route.fulfill({ status, headers, body });
  });
  const response = await page.goto(`${base}/reports/${hash}`);
  return { context, page, seen, response, violations: () => page.evaluate(() => window.__violations) };
}

const settled = (page, panel) =>
  page.waitForFunction((id) => {
    const p = document.getElementById(`panel-${id}`);
    return p && !p.hasAttribute("aria-busy") && (p.querySelector(".content").children.length || p.querySelector(".status").children.length);
  }, panel);

async function axe(page) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(" | ")}`);
}

async function cellTexts(page, selector) {
  return page.$$eval(`${selector} tbody tr`, (rows) => rows.map((r) => [...r.children].map((c) => c.textContent.trim())));
}

async function select(page, id) {
  await page.click(`#tab-${id}`);
  await settled(page, id);
}

async function finish(view, { context, page, seen, violations }) {
  assert.deepEqual(await violations(), [], "CSP violations");
  assert.deepEqual(seen.errors, [], "page errors");
  assert.deepEqual(seen.dialogs, [], "dialogs");
  assert.deepEqual(await axe(page), [], `axe on ${view}`);
  await page.screenshot({ path: join(ARTIFACTS, `reports-${view}.png`), fullPage: true });
  await context.close();
}

describe("report page views on fixture data", () => {
  test("served with the strict CSP and security headers of the function", async () => {
    const opened = await openReports();
    const headers = opened.response.headers();
    const csp = headers["content-security-policy"];
    for (const part of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "require-trusted-types-for 'script'"]) {
      assert.ok(csp.includes(part), part);
    }
    assert.ok(!/unsafe-(inline|eval)/.test(csp));
    assert.equal(headers["x-content-type-options"], "nosniff");
    // the policy is in force: HTML sinks throw, style attributes and inline scripts are refused
    const probe = await opened.page.evaluate(() => {
      const out = {};
      try { document.body.insertAdjacentHTML("beforeend", "<b>x</b>"); out.html = "allowed"; } catch (e) { out.html = e.name; }
      const div = document.createElement("div");
      div.setAttribute("style", "color: rgb(255, 0, 0)");
      document.body.append(div);
      out.style = getComputedStyle(div).color;
      div.remove();
      return out;
    });
    assert.equal(probe.html, "TypeError");
    assert.notEqual(probe.style, "rgb(255, 0, 0)");
    assert.equal((await opened.violations()).length, 2); // exactly the two probes were refused
    await opened.context.close();
  });

  test("a laptop-sized window: the default day grain fits without horizontal scrolling", async () => {
    const opened = await openReports(HASH, { width: 1024 });
    await settled(opened.page, "active");
    assert.equal(await opened.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true);
    await finish("active-users-day-1024", opened);
  });

  test("active users: KPIs, chart and tables equal the API's numbers", async () => {
    const opened = await openReports(`${HASH}&grain=week`);
    const { page } = opened;
    await settled(page, "active");
    const q = { from: fx.RANGE.from, to: fx.RANGE.to };
    const scope = (r) => r.tenant === "(all)" && r.user_type === "(all)"; // not the user-type breakdown
    const week = fx.activeUsers({ ...q, grain: "week" }).rows.filter(scope);
    const month = fx.activeUsers({ ...q, grain: "month" }).rows.filter(scope);
    const day = fx.activeUsers({ ...q, grain: "day" }).rows.filter(scope);
    const rows = await cellTexts(page, "#panel-active table.active-table");
    assert.deepEqual(rows.map((r) => r.slice(0, 4)), week.map((r) => [r.period, int(r.active_users), int(r.sessions), int(r.events)]));
    const kpis = await page.$$eval("#panel-active .kpi", (nodes) => Object.fromEntries(nodes.map((n) => [n.querySelector("dt").textContent, n.querySelector(".kpi-value").textContent])));
    const days = day.length; // every day of the range has a row in the fixture
    assert.equal(days, 112);
    assert.equal(kpis["Average daily active users"], int(day.reduce((s, r) => s + r.active_users, 0) / days));
    assert.equal(kpis["Weekly active users"], int(week.at(-1).active_users));
    assert.equal(kpis["Monthly active users"], int(month.at(-1).active_users));
    assert.equal(kpis.Events, int(day.reduce((s, r) => s + r.events, 0)));
    assert.equal(kpis["Stickiness (DAU ÷ MAU)"], pct(month.at(-1).stickiness)); // the server's figure
    const sticky = await cellTexts(page, "#panel-active table.sticky-table");
    assert.deepEqual(sticky.map((r) => [r[0], r[2], r[3]]), month.map((r) => [r.period, int(r.active_users), pct(r.stickiness)]));
    assert.equal(await page.locator("#panel-active canvas").count(), 1);
    assert.match(await page.getAttribute("#panel-active figure.chart", "aria-label"), /same numbers are in the table/);
    assert.match(await page.textContent("#k-text"), /fewer than 5 people \(k = 5\)/);
    await finish("active-users", opened);
  });

  test("feature adoption: users, share and events of the latest week, bars and sparklines", async () => {
    const opened = await openReports(`${HASH}&view=adoption`);
    const { page } = opened;
    await settled(page, "adoption");
    const answer = fx.features({ grain: "week", ...fx.RANGE });
    const rows = answer.rows.filter((r) => r.user_type === "(all)");
    const latest = rows.at(-1).period;
    const expected = rows.filter((r) => r.period === latest).sort((a, b) => b.users - a.users);
    const shown = await cellTexts(page, "#panel-adoption table.adoption-table");
    assert.deepEqual(
      shown.slice(0, expected.length).map((r) => [r[0], r[1], r[2], r[4], r[5]]),
      expected.map((r) => [r.feature, r.app, int(r.users), pct(r.share), int(r.events)]),
    );
    // the change column: users against the week before, as a difference and a percentage
    const previousWeek = [...new Set(rows.map((r) => r.period))].sort().at(-2);
    for (const r of expected) {
      const before = rows.find((x) => x.period === previousWeek && x.feature === r.feature && x.app === r.app);
      const row = shown.find((x) => x[0] === r.feature && x[1] === r.app);
      if (before) assert.ok(row[3].startsWith(`${r.users > before.users ? "+" : r.users < before.users ? "−" : "±"}${int(Math.abs(r.users - before.users))} (`), row[3]);
    }
    assert.match(shown.at(-1)[0], /^\(other\)/); // the fold is last and says what it is
    const otherEvents = answer.other.filter((r) => r.user_type === "(all)");
    assert.deepEqual(shown.at(-1).slice(2, 7), ["–", "–", "–", int(otherEvents.at(-1).events), int(otherEvents.reduce((s, r) => s + r.events, 0))]);
    const total = rows.filter((r) => r.feature === "feature.used").reduce((s, r) => s + r.events, 0);
    assert.equal(shown.find((r) => r[0] === "feature.used")[6], int(total));
    assert.equal(await page.locator("#panel-adoption svg.spark").count(), expected.length + 1);
    assert.equal(await page.locator("#panel-adoption svg.bar").count(), 2 * expected.length + 1);
    // sortable: by growth, the feature whose users grew most comes first
    await page.selectOption("#a-sort", "growth");
    await settled(page, "adoption");
    await page.waitForFunction(() => location.hash.includes("sort=growth"));
    const growth = (r) => r.users - (rows.find((x) => x.period === previousWeek && x.feature === r.feature && x.app === r.app)?.users ?? NaN);
    const top = expected.filter((r) => Number.isFinite(growth(r))).sort((a, b) => growth(b) - growth(a))[0];
    await page.waitForFunction((f) => document.querySelector("#panel-adoption table.adoption-table tbody tr th")?.textContent === f, top.feature);
    await finish("feature-adoption", opened);
  });

  test("retention: a heat map of 12 weeks per cohort with the API's counts", async () => {
    const opened = await openReports(`${HASH}&view=retention`);
    const { page } = opened;
    await settled(page, "retention");
    const cohorts = fx.retention(fx.RANGE).rows;
    const shown = await cellTexts(page, "#panel-retention table.heatmap");
    assert.equal(shown.length, cohorts.length);
    assert.equal(shown[0].length, 14);
    for (const [i, c] of cohorts.entries()) {
      assert.ok(shown[i][0].startsWith(c.cohort));
      assert.equal(shown[i][1], int(c.users));
      for (let w = 0; w < 12; w++) {
        const cell = shown[i][2 + w];
        if (w >= c.weeks_elapsed) {
          assert.equal(cell, "not yet reached·"); // weeks that have not closed are not shown as 0
          continue;
        }
        const expected = c.active[w] ? `${pct(c.active[w] / c.users)}${int(c.active[w])}` : `<${fx.K} people: none or fewer than ${fx.K}`;
        assert.equal(cell, expected);
      }
    }
    assert.ok(await page.locator("#panel-retention td.heat-10, #panel-retention td.heat-6, #panel-retention td.heat-5").count() > 0);
    await finish("retention", opened);
  });

  test("tenant onboarding: one tenant week by week since its first event, hostile name as text", async () => {
    const opened = await openReports(`${HASH}&view=onboarding&tenant=kbadc0ffee0ddf00d`);
    const { page, seen } = opened;
    await settled(page, "onboarding");
    const lead = await page.textContent("#panel-onboarding .lead");
    assert.ok(lead.startsWith(fx.HOSTILE), lead);
    assert.equal(await page.locator("img").count(), 0);
    const asked = seen.requests.filter((r) => r.url.pathname === "/api/reports/onboarding");
    assert.equal(asked.length, 1);
    assert.deepEqual(Object.fromEntries(asked[0].url.searchParams), { tenant: "kbadc0ffee0ddf00d", weeks: "6" });
    // first seen on a Wednesday: the server sends 7 weeks for weeks=6; the page shows exactly 6
    const expected = fx.onboarding({ tenant: "kbadc0ffee0ddf00d", weeks: "6" }).rows.slice(0, 6);
    const shown = await cellTexts(page, "#panel-onboarding table.onboarding-table");
    let adopted = 0;
    assert.deepEqual(
      shown,
      expected.map((r, i) => {
        adopted += r.new_features.length;
        return [r.week, String(i + 1), int(r.active_users), int(r.sessions), int(r.events), int(r.features_adopted), int(adopted), r.new_features.join(", ") || "—"];
      }),
    );
    assert.ok(adopted >= fx.FEATURES.length - 1, String(adopted));
    // the tenant filter lists directory names, the unnamed tenant by a marked short key
    const options = await page.$$eval("#f-tenant option", (o) => o.map((x) => x.textContent));
    assert.ok(options.includes(fx.HOSTILE));
    assert.ok(options.includes("Unnamed tenant (k0123456)"));
    await finish("tenant-onboarding", opened);
  });

  test("launch comparison: the launched feature before and after, chosen by default", async () => {
    const opened = await openReports(`${HASH}&view=launch&launch=${fx.LAUNCH}&weeks=4`);
    const { page, seen } = opened;
    await settled(page, "launch");
    const window = seen.requests.find((r) => r.url.pathname === "/api/reports/features").url.searchParams;
    assert.deepEqual([window.get("from"), window.get("to"), window.get("grain")], ["2026-08-03", "2026-09-27", "week"]);
    const asked = seen.requests.find((r) => r.url.pathname === "/api/reports/launch").url.searchParams;
    assert.deepEqual(Object.fromEntries(asked), { feature: "feature.used", app: "insights", date: fx.LAUNCH, weeks: "4" });
    assert.equal(await page.inputValue("#l-feature"), "insights::feature.used"); // the suggestion: largest gain
    const answer = fx.launch({ feature: "feature.used", app: "insights", date: fx.LAUNCH, weeks: "4" });
    const shown = await cellTexts(page, "#panel-launch table.launch-table");
    const relative = ["4 wk before", "3 wk before", "2 wk before", "1 wk before", "launch week", "1 wk after", "2 wk after", "3 wk after"];
    assert.deepEqual(shown, answer.rows.map((r, i) => [r.week, relative[i], int(r.users), pct(r.share), int(r.events)]));
    const kpis = await page.$$eval("#panel-launch .kpi", (nodes) => nodes.map((n) => [n.querySelector("dt").textContent, n.querySelector(".kpi-value").textContent]));
    // the launch week is shown apart: the averages are of the weeks before it and after it
    const mean = (list) => list.reduce((s, x) => s + x, 0) / list.length;
    const side = (test) => answer.rows.filter((r) => test(r.offset));
    assert.deepEqual(kpis.slice(0, 5), [
      ["Weekly users before", int(mean(side((o) => o < 0).map((r) => r.users)))],
      ["Launch week", int(side((o) => o === 0)[0].users)],
      ["Weekly users after", int(mean(side((o) => o > 0).map((r) => r.users)))],
      ["Share before", pct(mean(side((o) => o < 0).map((r) => r.share)))],
      ["Share after", pct(mean(side((o) => o > 0).map((r) => r.share)))],
    ]);
    assert.match(await page.textContent("#panel-launch .kpi:nth-child(3) .kpi-detail"), /\(new\) vs before/);
    // every feature of the window ranked by its before → after change: the launched one first
    const ranked = await cellTexts(page, "#panel-launch table.rank-table");
    assert.equal(ranked[0][1], "feature.used");
    assert.equal(ranked.length, new Set(fx.features({ grain: "week", from: "2026-08-03", to: "2026-09-27" }).rows.map((r) => `${r.app}::${r.feature}`)).size);
    // another feature and window from the view's own form
    await page.selectOption("#l-feature", "service-desk::case.submitted");
    await page.fill("#l-weeks", "2");
    await page.click("#launch-form button[type=submit]");
    await page.waitForFunction(() => document.querySelectorAll("#panel-launch table.launch-table tbody tr").length === 4);
    const last = seen.requests.filter((r) => r.url.pathname === "/api/reports/launch").at(-1).url.searchParams;
    assert.deepEqual(Object.fromEntries(last), { feature: "case.submitted", app: "service-desk", date: fx.LAUNCH, weeks: "2" });
    const windowed = seen.requests.filter((r) => r.url.pathname === "/api/reports/features").at(-1).url.searchParams;
    assert.deepEqual([windowed.get("from"), windowed.get("to")], ["2026-08-17", "2026-09-13"]);
    assert.match(await page.textContent("#panel-launch table.launch-table caption"), /^case\.submitted \(service-desk\)/);
    await page.selectOption("#l-feature", "insights::feature.used");
    await page.fill("#l-weeks", "4");
    await page.click("#launch-form button[type=submit]");
    await page.waitForFunction(() => document.querySelectorAll("#panel-launch table.launch-table tbody tr").length === 8);
    await finish("launch-comparison", opened);
  });
});

describe("tenants, funnels, markers, honest display", () => {
  test("tenants: one row per tenant with the API's figures, hidden as hidden, links into its views, sortable", async () => {
    const opened = await openReports(`${HASH}&view=tenants`);
    const { page } = opened;
    await settled(page, "tenants");
    const report = fx.tenantTable({ weeks: "12" });
    const shown = await cellTexts(page, "#panel-tenants table.tenant-table");
    assert.equal(shown.length, fx.TENANTS.length);
    const byWau = [...report.rows].sort((a, b) => (b.wau ?? -1) - (a.wau ?? -1));
    for (const [i, r] of byWau.entries()) {
      assert.ok(shown[i][0].startsWith(r.name ?? "Unnamed tenant"), shown[i][0]);
      assert.equal(shown[i][1], r.first_seen);
      assert.equal(shown[i][3], r.wau === null ? "hidden" : int(r.wau));
      assert.equal(shown[i][6], r.mau === null ? (r.mau_hidden ? "hidden" : "–") : int(r.mau));
      assert.equal(shown[i][8], "not available");
    }
    assert.match(await page.textContent("#panel-tenants .coverage-note"), /of those who consented/);
    assert.equal(await page.locator("#panel-tenants svg.spark").count(), fx.TENANTS.length);
    // the link opens that tenant's active users
    await page.click("#panel-tenants a.tenant-link >> nth=0");
    await page.waitForFunction(() => location.hash.includes("view=active") && location.hash.includes("tenant=k"));
    await settled(page, "active");
    await opened.page.goto(`${base}/reports/${HASH}&view=tenants&tsort=name`);
    await settled(opened.page, "tenants");
    const names = (await cellTexts(opened.page, "#panel-tenants table.tenant-table")).map((r) => r[0]);
    assert.deepEqual(names, [...names].sort((a, b) => a.localeCompare(b)));
    await finish("tenants", opened);
  });

  test("funnels: the steps of the latest week, conversion per week, hidden steps say hidden", async () => {
    const opened = await openReports(`${HASH}&view=funnels`);
    const { page, seen } = opened;
    await settled(page, "funnels");
    const asked = seen.requests.filter((r) => r.url.pathname === "/api/reports/funnels").at(-1).url.searchParams;
    assert.deepEqual(Object.fromEntries(asked), { from: fx.RANGE.from, to: fx.RANGE.to });
    const report = fx.funnels({ ...fx.RANGE });
    const rows = report.rows.filter((r) => r.mode === "7d");
    const weeks = [...new Set(rows.map((r) => r.week))].sort();
    const perWeek = await cellTexts(page, "#panel-funnels table.funnel-table");
    assert.deepEqual(
      perWeek,
      weeks.map((w) => {
        const steps = rows.filter((r) => r.week === w);
        const last = steps.at(-1);
        return [w, ...steps.map((r) => (r.users === null ? "hidden" : int(r.users))), last.users === null ? "hidden" : pct(last.conversion)];
      }),
    );
    assert.ok(perWeek.some((r) => r.includes("hidden")), "the fixture's hidden week says hidden, never 0");
    const latest = await cellTexts(page, "#panel-funnels table.funnel-latest");
    assert.deepEqual(latest.map((r) => r[1]), rows.filter((r) => r.week === weeks.at(-1)).map((r) => int(r.users)));
    assert.equal(await page.locator("#panel-funnels canvas").count() > 0, true);
    // within one session instead: the view asks again and shows the session rows
    await page.selectOption("#u-mode", "session");
    await page.waitForFunction(() => location.hash.includes("mode=session"));
    await settled(page, "funnels");
    const session = report.rows.filter((r) => r.mode === "session" && r.week === weeks.at(-1));
    await page.waitForFunction((n) => document.querySelector("#panel-funnels table.funnel-latest tbody tr:last-child td")?.textContent.includes(n), int(session.at(-1).users));
    await finish("funnels", opened);
  });

  test("markers: the launch view starts at the latest marker; charts list the markers in range", async () => {
    const opened = await openReports(`#from=${fx.RANGE.from}&to=${fx.RANGE.to}&view=launch`);
    const { page, seen } = opened;
    await settled(page, "launch");
    await page.waitForSelector("#panel-launch table.launch-table");
    const asked = seen.requests.filter((r) => r.url.pathname === "/api/reports/launch").at(-1).url.searchParams;
    assert.equal(asked.get("date"), fx.LAUNCH);
    assert.equal(asked.get("feature"), "feature.used");
    assert.match(await page.textContent("#panel-launch .launch-source"), /latest launch marker: 2026-08-31 “Insights launched”/);
    await select(page, "active");
    assert.match(await page.textContent("#panel-active .markers-note"), /2026-08-03 Search v2; 2026-08-31 Insights launched/);
    await opened.context.close();
  });

  test("honest display: a suppressed week is hidden (never 0), the open week in progress, ± beside a margin", async () => {
    const thisWeek = fx.isoWeek(new Date().toISOString().slice(0, 10));
    const api = (url) => {
      if (!url.includes("/active-users")) return null;
      const q = Object.fromEntries(new URL(url).searchParams);
      const body = fx.activeUsers(q);
      if (q.grain === "week") {
        const weeks = [...new Set(body.rows.map((r) => r.period))];
        body.rows = body.rows.filter((r) => r.period !== weeks[2]); // suppressed: missing
        const dp = body.rows.find((r) => r.period === weeks[3] && r.user_type === "(all)");
        if (dp) dp.moe = { active_users: 3.2 };
        const hidden = body.rows.find((r) => r.period === weeks[4] && r.user_type === "(all)");
        if (hidden) Object.assign(hidden, { hidden: true, active_users: null, sessions: null, events: null });
        body.rows.push({ period: thisWeek, tenant: "(all)", user_type: "(all)", active_users: 3, sessions: 4, events: 9 });
      }
      return { status: 200, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
    };
    const to = new Date().toISOString().slice(0, 10);
    const opened = await openReports(`#from=${fx.RANGE.from}&to=${to}&grain=week`, { api });
    const { page } = opened;
    await settled(page, "active");
    const weeks = [...new Set(fx.activeUsers({ grain: "week", ...fx.RANGE }).rows.map((r) => r.period))];
    const shown = await cellTexts(page, "#panel-active table.active-table");
    const row = (w) => shown.find((r) => r[0] === w);
    assert.equal(row(weeks[2])[1], "hidden");
    assert.equal(row(weeks[4])[1], "hidden");
    assert.match(row(weeks[3])[1], / ± 3$/);
    assert.equal(row(thisWeek)[1], "in progress");
    assert.ok(!shown.some((r) => r[1] === "0"), "never 0");
    assert.match(await page.textContent("#panel-active .content"), /hidden \(fewer than 5 people, or none\)/);
    await finish("active-users-hidden", opened);
  });

  test("while demo data is seeded the page says so, then loads the views", async () => {
    let seeding = true;
    const api = (url) => (url.includes("/api/reports/status") ? { status: 200, headers: { "Content-Type": "application/json" }, body: JSON.stringify({ demo_seeding: seeding }) } : null);
    const opened = await openReports(HASH, { api });
    const { page } = opened;
    await page.waitForSelector("#seeding:not([hidden])");
    assert.match(await page.textContent("#seeding"), /Demo data is being seeded/);
    seeding = false;
    await page.waitForSelector("#seeding", { state: "hidden", timeout: 15000 });
    await settled(page, "active");
    await opened.context.close();
  });
});

describe("report page behaviour", () => {
  test("filters change the requests' query parameters; the keyboard reaches every control", async () => {
    const opened = await openReports(HASH);
    const { page, seen } = opened;
    await settled(page, "active");
    const first = seen.requests.filter((r) => r.url.pathname.endsWith("/active-users") && r.url.searchParams.get("from") === fx.RANGE.from);
    assert.deepEqual(first.map((r) => r.url.searchParams.get("grain")).sort(), ["day", "month", "week"]);
    // and the previous period of the same length, for the KPIs' change
    const previous = seen.requests.filter((r) => r.url.pathname.endsWith("/active-users") && r.url.searchParams.get("from") !== fx.RANGE.from);
    assert.deepEqual(previous.map((r) => Object.fromEntries(r.url.searchParams)), [{ grain: "day", from: fx.addDays(fx.RANGE.from, -112), to: fx.addDays(fx.RANGE.from, -1) }]);
    for (const r of first) {
      assert.deepEqual(Object.fromEntries(r.url.searchParams), { grain: r.url.searchParams.get("grain"), from: fx.RANGE.from, to: fx.RANGE.to });
    }
    await page.waitForFunction(() => document.querySelectorAll("#f-app option").length > 1); // apps learnt from the data
    seen.requests.length = 0;
    await page.fill("#f-from", "2026-08-01");
    await page.fill("#f-to", "2026-09-30");
    await page.selectOption("#f-tenant", "k9a8b7c6d5e4f3a21");
    await page.selectOption("#f-user-type", "advanced_user");
    // the app filter does not apply to active users: disabled, and the page says where it applies
    assert.equal(await page.isDisabled("#f-app"), true);
    assert.match(await page.textContent("#app-note"), /applies to Feature adoption and Launch comparison only/);
    await page.check("input[name=grain][value=month]");
    await page.click("#filters button[type=submit]");
    await settled(page, "active");
    await page.waitForFunction(() => document.querySelector("#panel-active table.active-table caption")?.textContent.includes("month"));
    const expected = { from: "2026-08-01", to: "2026-09-30", tenant: "k9a8b7c6d5e4f3a21", user_type: "advanced_user" };
    const active = seen.requests.filter((r) => r.url.pathname.endsWith("/active-users") && r.url.searchParams.get("from") === expected.from);
    assert.equal(active.length, 3);
    for (const r of active) assert.deepEqual({ ...Object.fromEntries(r.url.searchParams), grain: undefined }, { ...expected, grain: undefined });
    assert.match(page.url(), /tenant=k9a8b7c6d5e4f3a21/);
    // keyboard: arrow keys move between tabs; the adoption view sends the app filter and a month grain
    await page.focus("#tab-active");
    await page.keyboard.press("ArrowRight");
    assert.equal(await page.evaluate(() => document.activeElement.id), "tab-adoption");
    await settled(page, "adoption");
    assert.equal(await page.isDisabled("#f-app"), false);
    await page.selectOption("#f-app", "service-desk");
    await page.click("#filters button[type=submit]");
    await page.waitForFunction(() => location.hash.includes("app=service-desk"));
    await settled(page, "adoption");
    const features = seen.requests.filter((r) => r.url.pathname.endsWith("/features")).at(-1).url.searchParams;
    assert.deepEqual(Object.fromEntries(features), { ...expected, app: "service-desk", grain: "month" });
    await page.focus("#tab-adoption");
    await page.keyboard.press("End");
    assert.equal(await page.evaluate(() => document.activeElement.id), "tab-surveys"); // the last tab
    assert.equal(await page.isHidden("#panel-adoption"), true);
    // Tab order from the first filter reaches every control of the form
    await page.focus("#f-from");
    const order = [];
    for (let i = 0; i < 24 && order.at(-1) !== "submit"; i++) {
      const at = await page.evaluate(() => document.activeElement.id || document.activeElement.name || document.activeElement.type);
      if (order.at(-1) !== at) order.push(at); // a date input has a stop per segment
      await page.keyboard.press("Tab");
    }
    assert.deepEqual(order, ["f-from", "f-to", "f-tenant", "f-user-type", "grain", "submit"]); // the app filter is off on surveys
    // a bad range is refused in the page with a message, nothing is sent
    seen.requests.length = 0;
    await page.fill("#f-from", "2026-10-01");
    await page.fill("#f-to", "2026-09-01");
    await page.click("#filters button[type=submit]");
    assert.match(await page.textContent("#filter-error"), /on or before/);
    assert.equal(seen.requests.length, 0);
    assert.deepEqual(await opened.violations(), []);
    await opened.context.close();
  });

  test("CSV download: fetched with Accept: text/csv and saved as a file", async () => {
    const opened = await openReports(`${HASH}&view=retention`);
    const { page, seen } = opened;
    await settled(page, "retention");
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#panel-retention .downloads button")]);
    assert.equal(download.suggestedFilename(), `cetegra-retention-${fx.RANGE.from}-to-${fx.RANGE.to}.csv`);
    const saved = readFileSync(await download.path(), "utf8");
    assert.equal(saved, fx.toCsv(fx.retention(fx.RANGE).rows));
    assert.ok(saved.startsWith("cohort,tenant,user_type,users,active,weeks_elapsed\r\n"));
    const csv = seen.requests.filter((r) => r.accept.includes("text/csv"));
    assert.equal(csv.length, 1);
    assert.equal(csv[0].url.pathname, "/api/reports/retention");
    assert.deepEqual(await opened.violations(), []);
    await opened.context.close();
  });

  test("403: the reader role is named, nothing else is asked", async () => {
    const forbidden = () => ({ status: 403, headers: { "Content-Type": "application/json" }, body: JSON.stringify({ error: { code: "forbidden", message: "this report needs the reader role" } }) });
    const opened = await openReports(HASH, { api: forbidden });
    const { page, seen } = opened;
    await page.waitForSelector("#panel-active .error");
    assert.match(await page.textContent("#panel-active .error"), /You need the Cetegra\.Analytics\.Reader role/);
    assert.equal(await page.locator("#panel-active .error button").count(), 0);
    await page.click("#tab-retention");
    assert.match(await page.textContent("#panel-retention .error"), /Cetegra\.Analytics\.Reader/);
    assert.equal(seen.requests.length, 1); // the tenant list answered 403: no report is requested
    await page.screenshot({ path: join(ARTIFACTS, "reports-state-403.png") });
    assert.deepEqual(await axe(page), []);
    await opened.context.close();
  });

  test("503: a retry message with Retry-After, and the retry button loads the view", async () => {
    let down = true;
    const flaky = (url) =>
      down && url.includes("/active-users")
        ? { status: 503, headers: { "Content-Type": "application/json", "Retry-After": "30" }, body: JSON.stringify({ error: { code: "storage_unavailable", message: "storage unavailable" } }) }
        : null;
    const opened = await openReports(HASH, { api: flaky });
    const { page } = opened;
    await settled(page, "active");
    const text = await page.textContent("#panel-active .error");
    assert.match(text, /temporarily unavailable/);
    assert.match(text, /Try again in 30 seconds/);
    await page.screenshot({ path: join(ARTIFACTS, "reports-state-503.png") });
    assert.deepEqual(await axe(page), []);
    down = false;
    await page.click("#panel-active .error button");
    await page.waitForSelector("#panel-active table.active-table", { state: "attached" });
    assert.equal(await page.locator("#panel-active .error").count(), 0);
    await opened.context.close();
  });

  test("empty answers: an explanation instead of an empty chart", async () => {
    const none = (url) => (url.includes("/tenants") ? null : { status: 200, headers: { "Content-Type": "application/json" }, body: JSON.stringify({ grain: "day", from: fx.RANGE.from, to: fx.RANGE.to, k: 5, rows: [] }) });
    const opened = await openReports(`${HASH}&view=adoption`, { api: none });
    const { page } = opened;
    await settled(page, "adoption");
    assert.match(await page.textContent("#panel-adoption .empty"), /No data for these filters/);
    assert.equal(await page.locator("#panel-adoption canvas").count(), 0);
    await opened.context.close();
  });

  test("surveys: picker, answer bars, NPS groups, cells by user type and tenant, the NPS trend", async () => {
    const opened = await openReports(`${HASH}&view=surveys`);
    const { page, seen } = opened;
    await settled(page, "surveys");
    const [latest] = fx.SURVEYS;
    const options = await page.$$eval("#s-survey option", (os) => os.map((o) => [o.value, o.textContent]));
    assert.deepEqual(options.map((o) => o[0]), fx.SURVEYS.map((s) => s.id)); // newest first, as sent
    assert.equal(await page.inputValue("#s-survey"), latest.id);
    assert.equal(await page.textContent("#panel-surveys .survey-title"), latest.title);
    assert.ok((await page.textContent("#panel-surveys .survey-question")).includes(latest.question.text));
    const kpis = Object.fromEntries(await page.$$eval("#panel-surveys .kpi", (ks) => ks.map((k) => [k.querySelector("dt").textContent, k.querySelector(".kpi-value").textContent])));
    assert.equal(kpis.Answers, int(latest.answers));
    assert.equal(kpis.NPS, "+23.2");
    assert.match(await page.textContent("#panel-surveys .survey-meta"), /results as of 2026-10-14 06:00 UTC/); // a snapshot
    assert.equal(kpis["Promoters (9–10)"], pct(67 / 142));
    assert.equal(kpis["Passives (7–8)"], pct(41 / 142));
    assert.equal(kpis["Detractors (0–6)"], pct(34 / 142));
    assert.equal(await page.locator("#panel-surveys svg.nps-bar rect").count(), 3);
    // the distribution in the question's order, (other) last, each count and share as sent
    const buckets = await cellTexts(page, "#panel-surveys .distribution-table");
    const expected = ["5", "6", "7", "8", "9", "10"].map((a) => [a, int(latest.distribution[a]), pct(latest.distribution[a] / 142)]);
    expected.push([`(other) — answers chosen by fewer than ${fx.K} people, folded`, int(18), pct(18 / 142)]);
    assert.deepEqual(buckets, expected);
    assert.equal(await page.locator("#panel-surveys .distribution-table svg.bar").count(), 7);
    assert.deepEqual(await cellTexts(page, "#panel-surveys .cells-user_type"), [
      ["Advanced users", "31", "+35.5"],
      ["Basic users", "96", "+19.8"],
      ["IT admins", "15", "+26.7"],
    ]);
    // tenants by their directory name (hostile markup as text), a key `/tenants` lacks shortened
    assert.deepEqual(await cellTexts(page, "#panel-surveys .cells-tenant"), [
      ["Nordlys Energi AS", "55", "+27.3"],
      ["Fjord Drilling", "44", "+18.2"],
      [fx.HOSTILE, "22", "+22.7"],
      [`Unnamed tenant (${fx.UNLISTED_TENANT.slice(0, 8)})`, "15", "+20.0"],
      ["(other) — tenants with fewer than k answers, folded", "6", "+33.3"],
    ]);
    // the trend of the series, oldest first; the survey under k has no figure
    assert.deepEqual(await cellTexts(page, "#panel-surveys .trend-table"), [
      ["Quarterly NPS · Q1 2026", "2026-04-01", `<${fx.K}`, `– (fewer than ${fx.K} answers)`],
      ["Quarterly NPS · Q2 2026", "2026-07-01", "118", "+16.9"],
      ["Quarterly NPS · Q3 2026 (shown above)", "2026-10-01", "142", "+23.2"],
    ]);
    assert.equal(await page.locator("#panel-surveys canvas").count() > 0, true);
    assert.match(await page.textContent("#k-text"), /fewer than 5 people/);
    assert.ok(!(await page.textContent("#panel-surveys")).includes("comment"));
    assert.deepEqual(seen.requests.filter((r) => r.url.pathname === "/api/reports/surveys").map((r) => r.url.search), [""]);
    await finish("surveys", opened);
  });

  test("surveys: another survey is picked without a request; hostile title as text; under k says so", async () => {
    const hostile = fx.SURVEYS.find((s) => s.title === fx.HOSTILE);
    const opened = await openReports(`${HASH}&view=surveys&survey=${hostile.id}`);
    const { page, seen } = opened;
    await settled(page, "surveys");
    assert.equal(await page.inputValue("#s-survey"), hostile.id); // from the URL fragment
    assert.equal(await page.textContent("#panel-surveys .survey-title"), fx.HOSTILE);
    assert.ok((await page.$$eval("#s-survey option", (os) => os.map((o) => o.textContent))).includes(`${fx.HOSTILE} · 2026-09-15`));
    assert.equal(await page.locator("img, script:not([src])").count(), 0);
    assert.deepEqual(await cellTexts(page, "#panel-surveys .distribution-table"), [
      ["Saved searches", "41", pct(41 / 77)],
      ["Case templates", "27", pct(27 / 77)],
      [`(other) — answers chosen by fewer than ${fx.K} people, folded`, "9", pct(9 / 77)],
    ]);
    assert.equal(await page.locator("#panel-surveys .trend-table").count(), 0); // no series
    const rating = fx.SURVEYS.find((s) => s.question.type === "rating");
    await page.selectOption("#s-survey", rating.id);
    assert.match(await page.textContent("#panel-surveys .survey-title"), /Rate the new search/);
    const kpis = await page.$$eval("#panel-surveys .kpi .kpi-value", (ks) => ks.map((k) => k.textContent));
    assert.deepEqual(kpis, ["54", "–"]); // withheld by the server (a rating under k was folded): says why
    assert.match(await page.textContent("#panel-surveys .survey-kpis"), /withheld: a rating has fewer than 5 people/);
    assert.deepEqual(await cellTexts(page, "#panel-surveys .cells-user_type"), [["Advanced users", "14", "–"], ["Basic users", "40", "–"]]);
    assert.deepEqual((await cellTexts(page, "#panel-surveys .cells-tenant"))[0], ["Nordlys Energi AS", "30", "–"]);
    assert.ok(new URLSearchParams((await page.evaluate(() => location.hash)).slice(1)).get("survey") === rating.id);
    const q1 = fx.SURVEYS.find((s) => s.suppressed);
    await page.selectOption("#s-survey", q1.id);
    assert.match(await page.textContent("#panel-surveys .suppressed"), /Fewer than 5 people have answered/);
    assert.equal(await page.locator("#panel-surveys .distribution-table").count(), 0);
    assert.equal(await page.locator("#panel-surveys .trend-table").count(), 1); // the series' trend still shows
    assert.equal(seen.requests.filter((r) => r.url.pathname === "/api/reports/surveys").length, 1);
    await finish("surveys-hostile", opened);
  });

  test("surveys: released results show hidden (never 0) and ± margins", async () => {
    const released = fx.SURVEYS.find((s) => s.title === "Pilot NPS (released)");
    const opened = await openReports(`${HASH}&view=surveys&survey=${released.id}`);
    const { page } = opened;
    await settled(page, "surveys");
    const kpis = Object.fromEntries(await page.$$eval("#panel-surveys .kpi", (ks) => ks.map((k) => [k.querySelector("dt").textContent, k.querySelector(".kpi-value").textContent])));
    assert.equal(kpis.Answers, "96 ± 78");
    assert.equal(kpis.NPS, "+52.1 ± 21.3");
    assert.equal(kpis["Detractors (0–6)"], "hidden");
    const buckets = await cellTexts(page, "#panel-surveys .distribution-table");
    assert.deepEqual(buckets[0], ["0", "hidden", "–"]);
    assert.deepEqual(buckets.at(-1), ["10", "41 ± 24", pct(41 / 96)]);
    assert.deepEqual(await cellTexts(page, "#panel-surveys .cells-user_type"), [
      ["Basic users", "60 ± 52", "+50.0 ± 25.2"],
      ["IT admins", "hidden", "–"],
    ]);
    await finish("surveys-released", opened);
  });

  test("surveys: CSV of the shown survey, built in the page, spreadsheet-safe", async () => {
    const opened = await openReports(`${HASH}&view=surveys`);
    const { page } = opened;
    await settled(page, "surveys");
    const before = opened.seen.requests.length;
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#panel-surveys .downloads button")]);
    assert.equal(download.suggestedFilename(), "cetegra-survey-2026-10-01.csv");
    const text = readFileSync(await download.path(), "utf8");
    const lines = text.trimEnd().split("\r\n");
    assert.equal(lines[0], "survey,question,section,key,name,answers,nps,mean");
    assert.ok(lines.includes("Quarterly NPS · Q3 2026,How likely are you to recommend Cetegra Workspace to a colleague?,overall,(all),(all),142,23.2,"));
    assert.ok(lines.includes("Quarterly NPS · Q3 2026,How likely are you to recommend Cetegra Workspace to a colleague?,nps_group,promoters,promoters,67,,"));
    assert.ok(lines.some((l) => l.includes(",tenant,k3f1a2b3c4d5e6f70,Nordlys Energi AS,55,27.3,")));
    assert.equal(lines.filter((l) => l.includes(",nps_trend,")).length, 3);
    assert.equal(opened.seen.requests.length, before); // nothing fetched for it
    await opened.context.close();
    // a title that a spreadsheet would run as a formula is written as text
    const formula = '=HYPERLINK("https://evil.example","x")';
    const tricky = (url) => (url.includes("/api/reports/surveys") ? { status: 200, headers: { "Content-Type": "application/json" }, body: JSON.stringify({ ...fx.surveys(), surveys: [{ ...fx.SURVEYS[0], title: formula }] }) } : null);
    const second = await openReports(`${HASH}&view=surveys`, { api: tricky });
    await settled(second.page, "surveys");
    assert.equal(await second.page.textContent("#panel-surveys .survey-title"), formula);
    const [file] = await Promise.all([second.page.waitForEvent("download"), second.page.click("#panel-surveys .downloads button")]);
    const row = readFileSync(await file.path(), "utf8").split("\r\n")[1];
    assert.ok(row.startsWith(`"'=HYPERLINK(""https://evil.example"",""x"")",`), row);
    await second.context.close();
  });

  test("surveys: a laptop-sized window fits without horizontal scrolling", async () => {
    const opened = await openReports(`${HASH}&view=surveys`, { width: 1024 });
    await settled(opened.page, "surveys");
    assert.equal(await opened.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true);
    await finish("surveys-1024", opened);
  });

  test("surveys: without a tenant directory (404) tenants show their keys and nothing breaks", async () => {
    const noDirectory = (url) => (url.includes("/api/reports/tenants") ? { status: 404, headers: { "Content-Type": "application/json" }, body: JSON.stringify({ error: { code: "not_found", message: "no such route" } }) } : null);
    const opened = await openReports(`${HASH}&view=surveys`, { api: noDirectory });
    const { page, seen } = opened;
    await settled(page, "surveys");
    const names = (await cellTexts(page, "#panel-surveys .cells-tenant")).map((r) => r[0]);
    assert.deepEqual(names.slice(0, 2), ["Unnamed tenant (k3f1a2b3)", "Unnamed tenant (k9a8b7c6)"]);
    assert.deepEqual(seen.errors.filter((e) => !e.includes("404")), []);
    assert.deepEqual(await opened.violations(), []);
    await opened.context.close();
  });

  test("hostile strings from the API stay text everywhere they are shown", async () => {
    const evil = fx.HOSTILE;
    const poisoned = (url) => {
      const { status, headers, body } = fx.answer(url);
      if (!url.includes("/features")) return null;
      const data = JSON.parse(body);
      for (const row of data.rows) if (row.feature === "case.submitted") row.feature = `${evil}<script>alert(2)</script>`;
      return { status, headers, body: JSON.stringify(data) };
    };
    const opened = await openReports(`${HASH}&view=adoption`, { api: poisoned });
    const { page, seen } = opened;
    await settled(page, "adoption");
    assert.ok((await page.textContent("#panel-adoption table")).includes(`${evil}<script>alert(2)</script>`));
    await select(page, "onboarding");
    await page.selectOption("#f-tenant", "kbadc0ffee0ddf00d");
    await page.click("#filters button[type=submit]");
    await page.waitForFunction(() => document.querySelector("#panel-onboarding .lead")?.textContent.startsWith("<img"));
    await select(page, "launch");
    assert.equal(await page.locator("img, script:not([src])").count(), 0);
    assert.deepEqual(seen.dialogs, []);
    assert.deepEqual(seen.errors, []);
    assert.deepEqual(await opened.violations(), []);
    await opened.context.close();
  });
});
