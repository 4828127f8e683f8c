// End to end: the real local host (`python -m tools.localhost --no-func`, its Azurite and the
// synthetic demo data it seeds on an empty store), a browser signed in through the Easy Auth
// stand-in (`/.auth/login/aad`), the report page at /reports/. For every view, the numbers on the
// page equal the API's answer to the very request the page made (fetched again here with the same
// sign-in cookie), axe-core finds no serious or critical violation, and a screenshot goes to
// client/test/artifacts/reports-e2e-<view>.png. A short demo (DEMO_DAYS) keeps the seed, and so
// the test, short on a 2-core machine; the demo's default 159 people (DEMO_USERS) are kept, as a
// feature's weekly users are shown only from 3 sigma of their noise (53 people).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const ROOT = new URL("../../", import.meta.url).pathname;
const ARTIFACTS = join(ROOT, "client/test/artifacts");
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const PYTHON = process.env.PYTHON || (existsSync(join(ROOT, ".venv/bin/python")) ? join(ROOT, ".venv/bin/python") : "python3");
const AXE = readFileSync(join(ROOT, "node_modules/axe-core/axe.min.js"), "utf8");
const LOCALE = "en-GB";
const SEED_MS = 180000;
const int = (n) => new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 0 }).format(n);
const pct = (x) => new Intl.NumberFormat(LOCALE, { style: "percent", maximumFractionDigits: 1 }).format(x);
const signed = (x) => (x > 0 ? "+" : x < 0 ? "−" : "") + new Intl.NumberFormat(LOCALE, { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(Math.abs(x));
const ALL = "(all)";
/** A figure as the page shows it: "hidden" (never 0) for a hidden row or null, "n ± m" with a margin of error. */
const fig = (row, field, format = int) => {
  if (!row || row.hidden === true || row[field] === null || row[field] === undefined) return "hidden";
  const moe = row.moe && typeof row.moe[field] === "number" ? row.moe[field] : null;
  return moe === null ? format(row[field]) : `${format(row[field])} ± ${int(moe)}`;
};
const scope = (r) => r.tenant === ALL && r.user_type === ALL; // no filter: the (all) rows
/** ISO week of a date, e.g. 2026-W48 (the page leaves the open week out of onboarding). */
function isoWeek(date) {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  d.setUTCDate(d.getUTCDate() + 4 - (d.getUTCDay() || 7));
  const year = d.getUTCFullYear();
  const week = Math.ceil(((d - Date.UTC(year, 0, 1)) / 86400000 + 1) / 7);
  return `${year}-W${String(week).padStart(2, "0")}`;
}
let base, host, browser, context, cookie, log = "";

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

const waitFor = async (check, ms, what) => {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`${what} not within ${ms / 1000} s:\n${log.slice(-3000)}`);
};

/** The API's answer to `url` (a path with query), with the browser's sign-in cookie. */
async function api(url) {
  const response = await fetch(new URL(url, base), { headers: { Cookie: cookie, Accept: "application/json" } });
  assert.equal(response.status, 200, url);
  return response.json();
}

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  host = spawn(PYTHON, ["-m", "tools.localhost", "--port", String(port), "--no-func"], {
    cwd: ROOT,
    env: { ...process.env, DEV_SALT_FILE: join(mkdtempSync(join(tmpdir(), "cetegra-e2e-")), "salt"),
           DEMO_DATA: "1", DEMO_DAYS: "70", DEMO_USERS: "159" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  host.stdout.on("data", (chunk) => { log += chunk; });
  host.stderr.on("data", (chunk) => { log += chunk; });
  await waitFor(async () => (await fetch(`${base}/api/health`)).ok, 30000, "local host start");
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"],
  });
  context = await browser.newContext({ locale: LOCALE, timezoneId: "UTC", viewport: { width: 1360, height: 900 } });
  // sign in as the demo's product analyst (Reader role), as a person opening the page would
  const page = await context.newPage();
  await page.goto(`${base}/.auth/login/aad?post_login_redirect_uri=/reports/`);
  assert.equal(new URL(page.url()).pathname, "/reports/");
  const session = (await context.cookies(base)).find((c) => c.name === "AppServiceAuthSession");
  assert.ok(session, "signed in: the Easy Auth session cookie is set");
  cookie = `${session.name}=${session.value}`;
  await page.close();
  // the demo seed runs in the background: tenants are named first, the notification is published
  // last (reading the surveys earlier would take their snapshots half-way through the answers)
  await waitFor(async () => (await api("/api/reports/tenants")).tenants.length > 0, SEED_MS, "demo tenants");
  // then the page's status says the seeding is over (it is noted before the tenants are named)
  await waitFor(async () => (await api("/api/reports/status")).demo_seeding === false, SEED_MS, "demo data");
});

after(async () => {
  await browser?.close();
  host?.kill("SIGTERM");
});

/** The report page at `hash`, signed in; records the page's API requests and errors. */
async function open(hash) {
  const page = await context.newPage();
  const seen = { requests: [], errors: [] };
  page.on("request", (r) => r.url().includes("/api/reports/") && seen.requests.push(new URL(r.url())));
  page.on("pageerror", (error) => seen.errors.push(String(error)));
  // the browser's own favicon probe is not the page's request (the page declares no icon)
  page.on("console", (m) => m.type() === "error" && !m.location().url?.endsWith("/favicon.ico") && seen.errors.push(`${m.text()} ${m.location().url}`));
  await page.goto(`${base}/reports/#${hash}`);
  return { page, seen };
}

const settled = (page, panel) =>
  page.waitForFunction((id) => {
    const p = document.getElementById(`panel-${id}`);
    return p && !p.hasAttribute("aria-busy") && (p.querySelector(".content").children.length || p.querySelector(".status").children.length);
  }, panel);

/** The request the page made to `path` (the last one), as path + query. */
function asked(seen, path, where = () => true) {
  const found = seen.requests.filter((u) => u.pathname === path && where(u.searchParams)).at(-1);
  assert.ok(found, `the page asked ${path}`);
  return found.pathname + found.search;
}

const cells = (page, selector) =>
  page.$$eval(`${selector} tbody tr`, (rows) => rows.map((r) => [...r.children].map((c) => c.textContent.trim())));
const kpis = async (page, panel) =>
  Object.fromEntries(await page.$$eval(`#panel-${panel} .kpi`, (ks) => ks.map((k) => [k.querySelector("dt").textContent, k.querySelector(".kpi-value").textContent])));

async function finish(view, { page, seen }) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const serious = result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(" | ")}`);
  assert.deepEqual(serious, [], `axe on ${view}`);
  assert.deepEqual(seen.errors, [], "page errors");
  await page.screenshot({ path: join(ARTIFACTS, `reports-e2e-${view}.png`), fullPage: true });
  await page.close();
}

describe("report page on the local host's demo data", () => {
  test("active users: the weekly table and KPIs are the API's numbers", async () => {
    const opened = await open("view=active&grain=week");
    const { page, seen } = opened;
    await settled(page, "active");
    // the view also asks the previous period (for the change): take the requests of the range shown
    const latestFrom = seen.requests.filter((u) => u.pathname === "/api/reports/active-users").map((u) => u.searchParams.get("from")).sort().at(-1);
    const inRange = (grain) => (q) => q.get("grain") === grain && q.get("from") === latestFrom;
    const week = (await api(asked(seen, "/api/reports/active-users", inRange("week")))).rows.filter(scope);
    const month = (await api(asked(seen, "/api/reports/active-users", inRange("month")))).rows.filter(scope);
    assert.ok(week.length >= 4 && week.some((r) => r.active_users > 0), "the demo has weeks of activity");
    const rows = await cells(page, "#panel-active table.active-table");
    const thisWeek = isoWeek(new Date());
    const byWeek = new Map(week.map((r) => [r.period, r]));
    // every week from the first row on: the API's figures, "hidden" where it sent none, the open week in progress
    assert.deepEqual(
      rows.map((r) => r.slice(0, 4)),
      rows.map((r) => (r[0] >= thisWeek ? [r[0], "in progress", "in progress", "in progress"] : [r[0], fig(byWeek.get(r[0]), "active_users"), fig(byWeek.get(r[0]), "sessions"), fig(byWeek.get(r[0]), "events")])),
    );
    assert.deepEqual(rows.filter((r) => byWeek.has(r[0]) && r[0] < thisWeek).map((r) => r[0]), week.filter((r) => r.period < thisWeek).map((r) => r.period));
    const shown = await kpis(page, "active");
    const closed = rows.filter((r) => r[0] < thisWeek).at(-1)[0];
    assert.equal(shown["Weekly active users"], fig(byWeek.get(closed), "active_users"));
    const lastMonth = month.filter((r) => r.period < new Date().toISOString().slice(0, 7)).at(-1);
    assert.equal(shown["Monthly active users"], fig(lastMonth, "active_users"));
    // coverage: the demo writes no consent decisions, so its released count may be hidden; either way it is said
    assert.match(await page.textContent("#panel-active .coverage-note"), /people asked said yes|how many were asked is hidden/);
    assert.match(await page.textContent("#panel-active .markers-note"), /Insights dashboards launched \(demo\)/);
    await finish("active-users", opened);
  });

  test("feature adoption: the latest period's features, users, share and events", async () => {
    const opened = await open("view=adoption");
    const { page, seen } = opened;
    await settled(page, "adoption");
    const answer = await api(asked(seen, "/api/reports/features", (q) => q.get("grain") === "week")); // the view's grain
    const rows = answer.rows.filter(scope);
    const latest = [...rows, ...answer.other.filter(scope)].map((r) => r.period).sort().at(-1);
    const expected = rows.filter((r) => r.period === latest && !r.hidden).map((r) => [r.feature, r.app, fig(r, "users"), pct(r.share), fig(r, "events")]);
    assert.ok(expected.length > 0);
    const shown = (await cells(page, "#panel-adoption table.adoption-table")).filter((r) => !r[0].startsWith("(other)") && r[2] !== "hidden");
    const key = (r) => `${r[1]} ${r[0]}`;
    assert.deepEqual(shown.map((r) => [r[0], r[1], r[2], r[4], r[5]]).sort((a, b) => key(a).localeCompare(key(b))), expected.sort((a, b) => key(a).localeCompare(key(b))));
    // the demo's launched feature is released in its weeks (each week's draw is random: a week near
    // 3 sigma may hide it, so the latest week alone is not asserted; the page equals the API above)
    assert.ok(rows.some((r) => r.app === "insights" && !r.hidden), "the launched feature is there");
    await finish("feature-adoption", opened);
  });

  test("retention: every cohort's size and weekly counts", async () => {
    const opened = await open("view=retention");
    const { page, seen } = opened;
    await settled(page, "retention");
    const cohorts = (await api(asked(seen, "/api/reports/retention"))).rows.filter(scope).sort((a, b) => a.cohort.localeCompare(b.cohort));
    assert.ok(cohorts.length >= 3);
    const shown = await cells(page, "#panel-retention table.heatmap");
    assert.equal(shown.length, cohorts.length);
    for (const [i, c] of cohorts.entries()) {
      assert.ok(shown[i][0].startsWith(c.cohort), shown[i][0]);
      assert.equal(shown[i][1], fig(c, "users"));
      const users = c.hidden ? null : c.users;
      for (let w = 0; w < Math.min(12, c.weeks_elapsed); w++) {
        const cell = shown[i][2 + w];
        const n = c.active[w];
        if (n === null || n === undefined) assert.match(cell, /^hidden/);
        else if (users === null) assert.equal(cell, `–${int(n)}`);
        else if (n) assert.equal(cell, `${pct(n / users)}${int(n)}`);
        else assert.match(cell, /none or fewer than/);
      }
    }
    await finish("retention", opened);
  });

  test("tenant onboarding: the largest demo tenant by its directory name, week by week", async () => {
    const tenants = (await api("/api/reports/tenants")).tenants;
    const contoso = tenants.find((t) => t.name.includes("Contoso"));
    assert.ok(contoso, "the directory names the demo tenants");
    const onboarding = await open(`view=onboarding&tenant=${contoso.tenant}`);
    const { page, seen } = onboarding;
    await settled(page, "onboarding");
    assert.ok((await page.textContent("#panel-onboarding .lead")).startsWith(contoso.name));
    const thisWeek = isoWeek(new Date());
    const onboardingUrl = asked(seen, "/api/reports/onboarding");
    const weeks = Number(new URL(onboardingUrl, base).searchParams.get("weeks"));
    const rows = (await api(onboardingUrl)).rows.slice(0, weeks).filter((r) => r.week < thisWeek); // exactly the weeks asked for
    assert.ok(rows.length > 0);
    let adopted = 0;
    const expected = rows.map((r, i) => {
      adopted += (r.new_features || []).length;
      return [r.week, String(i + 1), fig(r, "active_users"), fig(r, "sessions"), fig(r, "events"), fig(r, "features_adopted"), int(adopted), (r.new_features || []).join(", ") || "—"];
    });
    assert.deepEqual(await cells(page, "#panel-onboarding table.onboarding-table"), expected);
    await finish("tenant-onboarding", onboarding);
  });

  test("launch comparison: weeks before and after the launch, and the summary", async () => {
    const opened = await open("view=launch");
    const { page, seen } = opened;
    await settled(page, "launch");
    await page.waitForSelector("#panel-launch table.launch-table");
    const answer = await api(asked(seen, "/api/reports/launch"));
    // the launch view starts at the latest launch marker, with its feature
    const { latest } = await api("/api/reports/markers");
    assert.equal(answer.date, latest.date);
    // ... with its feature when the window's feature rows have it (under the DP releases'
    // per-person feature bound the small demo's "insights" may not be released; then the page
    // suggests one, as without a marker)
    const window = await api(asked(seen, "/api/reports/features", (q) => q.get("grain") === "week"));
    if (window.rows.some((r) => scope(r) && r.app === latest.app && r.feature === latest.feature)) {
      assert.equal(`${answer.app}::${answer.feature}`, `${latest.app}::${latest.feature}`);
    }
    const hidden = (r) => r.hidden === true || r.users === null || r.users === undefined;
    const share = (r) => (hidden(r) ? "hidden" : r.share === null ? "–" : pct(r.share)); // no active users that week: no share
    const shown = await cells(page, "#panel-launch table.launch-table");
    assert.deepEqual(shown.map((r) => [r[0], r[2], r[3], r[4]]), answer.rows.map((r) => [r.week, fig(r, "users"), share(r), fig(r, "events")]));
    // the launch week apart: the averages are of the shown weeks before it and after it
    const mean = (list) => (list.length ? list.reduce((s, x) => s + x, 0) / list.length : null);
    const side = (test) => answer.rows.filter((r) => test(r.offset) && !hidden(r)).map((r) => r.users);
    const summary = await kpis(page, "launch");
    const before = mean(side((o) => o < 0));
    const after = mean(side((o) => o > 0));
    assert.equal(summary["Weekly users before"], before === null ? "hidden" : int(before));
    assert.equal(summary["Weekly users after"], after === null ? "hidden" : int(after));
    assert.equal(summary["Launch week"], fig(answer.rows.find((r) => r.offset === 0), "users"));
    const ranked = await cells(page, "#panel-launch table.rank-table");
    assert.equal(ranked.length, new Set(window.rows.filter((r) => scope(r) && r.feature !== "(other)").map((r) => `${r.app}::${r.feature}`)).size);
    await finish("launch-comparison", opened);
  });

  test("tenants: one row per tenant, the API's figures, hidden as hidden, names from the directory", async () => {
    const opened = await open("view=tenants");
    const { page, seen } = opened;
    await settled(page, "tenants");
    const report = await api(asked(seen, "/api/reports/tenant-table"));
    assert.equal(report.rows.length, 5);
    const shown = await cells(page, "#panel-tenants table.tenant-table");
    const byName = new Map(shown.map((r) => [r[0].replace(/ onboarding$/, ""), r]));
    for (const r of report.rows) {
      const row = byName.get(r.name);
      assert.ok(row, r.name);
      assert.equal(row[1], r.first_seen);
      assert.equal(row[2], r.last_active_week || "–");
      assert.equal(row[3], r.wau === null ? (r.wau_hidden ? "hidden" : "–") : r.wau_moe === null || r.wau_moe === undefined ? int(r.wau) : `${int(r.wau)} ± ${int(r.wau_moe)}`);
      assert.equal(row[6], r.mau === null ? (r.mau_hidden ? "hidden" : "–") : r.mau_moe === null || r.mau_moe === undefined ? int(r.mau) : `${int(r.mau)} ± ${int(r.mau_moe)}`);
    }
    assert.ok(report.rows.some((r) => r.wau !== null), "the demo has weekly active users");
    await finish("tenants", opened);
  });

  test("funnels: the demo's case funnel per week equals the API's step counts", async () => {
    const opened = await open("view=funnels");
    const { page, seen } = opened;
    await settled(page, "funnels");
    const report = await api(asked(seen, "/api/reports/funnels"));
    assert.equal(report.funnel, "case_submission");
    const rows = report.rows.filter((r) => r.mode === "7d" && r.tenant === ALL && r.user_type === ALL);
    const weeks = [...new Set(rows.map((r) => r.week))].sort();
    assert.ok(weeks.length >= 3, "the demo has funnel weeks");
    const shown = await cells(page, "#panel-funnels table.funnel-table");
    assert.deepEqual(
      shown,
      weeks.map((w) => {
        const steps = rows.filter((r) => r.week === w).sort((a, b) => a.step - b.step);
        const last = steps.at(-1);
        return [w, ...steps.map((r) => fig(r, "users")), last.hidden ? "hidden" : pct(last.conversion)];
      }),
    );
    assert.ok(rows.some((r) => r.step === 1 && r.users > 0), "people opened the case list"); // later steps may be hidden (DP releases)
    await finish("funnels", opened);
  });

  test("surveys: the latest NPS survey, cells by directory tenant name, and the quarterly trend", async () => {
    const opened = await open("view=surveys");
    const { page, seen } = opened;
    await settled(page, "surveys");
    const report = await api(asked(seen, "/api/reports/surveys"));
    const names = Object.fromEntries((await api("/api/reports/tenants")).tenants.map((t) => [t.tenant, t.name]));
    const latest = report.surveys[0];
    assert.equal(await page.inputValue("#s-survey"), latest.id);
    assert.equal(await page.textContent("#panel-surveys .survey-title"), latest.title);
    // survey results are releases: with the small demo the noisy answers may be hidden
    const pm = (moe) => (moe ? ` ± ${Number.isInteger(moe) ? int(moe) : moe}` : "");
    if (latest.suppressed) {
      assert.equal(await page.locator("#panel-surveys .suppressed").count(), 1);
    } else {
      const shown = await kpis(page, "surveys");
      assert.equal(shown.Answers, `${int(latest.answers)}${pm(latest.answers_moe)}`);
      assert.equal(shown.NPS, latest.nps === null ? "–" : `${signed(latest.nps)}${pm(latest.nps_moe)}`);
      const tenantRows = await cells(page, "#panel-surveys .cells-tenant");
      // largest first; only tenants whose answers are shown
      const byTenant = [...latest.by_tenant].sort((a, b) => b.answers - a.answers);
      assert.deepEqual(tenantRows.map((r) => r[1]), byTenant.map((c) => `${int(c.answers)}${pm(c.moe)}`));
      for (const [i, c] of byTenant.entries()) assert.equal(tenantRows[i][0], names[c.key]); // the directory's name
    }
    const [trend] = report.trends;
    if (trend) {
      assert.ok(trend.points.length <= 3 && trend.points.every((p) => p.nps !== null)); // a survey without a shown NPS has no point
      const trendRows = await cells(page, "#panel-surveys .trend-table");
      assert.deepEqual(trendRows.map((r) => r[2]), trend.points.map((p) => `${int(p.answers)}${pm(p.answers_moe)}`));
      assert.deepEqual(trendRows.map((r) => r[3]), trend.points.map((p) => signed(p.nps)));
    }
    await finish("surveys", opened);
  });
});
