// The authoring page end to end in Chromium, against the local host (tools.localhost) and its
// Azurite: an author signs in through the Easy Auth stand-in, writes a notification (a bad link is
// refused at its field and nothing is stored), previews it in both languages (drawn by the
// notification centre's own code), targets a company by its name, publishes; two users see it in
// the demo notification centre; its reach shows on the page. Then a survey is published, answered
// and its answers shown with their freshness; an item is duplicated. axe-core finds no serious or
// critical violation; screenshots go to client/test/artifacts/authoring-e2e-<step>.png.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, freePort, launchBrowser, principal, startLocalHost, waitFor } from "./harness.mjs";

const K = 2; // AGGREGATE_MIN_USERS of this host: two users make a shown count
const ARTIFACTS = join(ROOT, "client/test/artifacts");
const AXE = readFileSync(join(ROOT, "node_modules/axe-core/axe.min.js"), "utf8");
const OPS = principal("ops", ["Cetegra.Analytics.Operator"]);
const TENANT = "tenant-e2e";
let base, host, browser, context;
const errors = [];

async function api(method, path, who, body) {
  const response = await fetch(`${base}/api${path}`, {
    method,
    headers: { "Content-Type": "application/json", "X-MS-CLIENT-PRINCIPAL": who },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  host = await startLocalHost(port, { AGGREGATE_MIN_USERS: String(K) });
  browser = await launchBrowser();
  context = await browser.newContext({ timezoneId: "UTC", viewport: { width: 1360, height: 1000 } });
  const named = await api("PUT", `/ops/tenants/${TENANT}`, OPS, { name: "Contoso (test)" });
  assert.equal(named.status, 200);
});

after(async () => {
  await browser?.close();
  host?.kill("SIGTERM");
  assert.deepEqual(errors, [], "the authoring page and the demo must never throw or log errors");
});

async function openAuthoring() {
  const page = await context.newPage();
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("console", (m) => m.type() === "error" && !m.location().url?.endsWith("/favicon.ico")
    && !/status of 4\d\d/.test(m.text()) && errors.push(`${m.text()} ${m.location().url}`));
  await page.goto(`${base}/.auth/login/aad?user=author-e2e&roles=Cetegra.Analytics.Author&post_login_redirect_uri=/authoring/`);
  assert.equal(new URL(page.url()).pathname, "/authoring/");
  await page.waitForFunction(() => document.body.dataset.ready === "true");
  return page;
}

async function axe(page, step) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const serious = result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(" | ")}`);
  assert.deepEqual(serious, [], `axe on ${step}`);
  await page.screenshot({ path: join(ARTIFACTS, `authoring-e2e-${step}.png`), fullPage: true });
}

/** A user of TENANT opens the demo notification centre in the "e2e" app; resolves to the titles. */
async function userSees(user) {
  const userContext = await browser.newContext();
  const page = await userContext.newPage();
  page.on("pageerror", (error) => errors.push(String(error)));
  await page.goto(`${base}/client/demo/notifications.html?user=${user}&tenant=${TENANT}&app=e2e&lang=nb`);
  await page.waitForFunction(() => document.body.dataset.ready === "true");
  const titles = await page.$$eval("#centre .title", (nodes) => nodes.map((n) => n.textContent));
  await userContext.close();
  return titles;
}

const rowOf = (page, title) => page.locator("#items tbody tr", { hasText: title });

test("create → refuse a bad field → preview in two languages → publish → users see it → reach", async () => {
  const page = await openAuthoring();
  assert.equal(await page.isVisible("#no-items"), true);
  await axe(page, "empty");

  await page.fill("#en-title", "Saved searches are here");
  await page.fill("#en-body", "Save any search and find it again under Favourites.");
  await page.fill("#nb-title", "Lagrede søk er her");
  await page.fill("#nb-body", "Lagre et søk og finn det igjen under Favoritter.");
  await page.fill("#link", "javascript:alert(1)");
  await page.click("#save");
  await page.waitForFunction(() => document.getElementById("err-link").textContent.length > 0);
  assert.equal(await page.getAttribute("#link", "aria-invalid"), "true");
  assert.deepEqual((await api("GET", "/authoring/items", OPS)).body.items, []); // nothing stored half-way
  await axe(page, "field-error");

  await page.fill("#link", "https://docs.cetegra.example/saved-searches");
  assert.equal(await page.textContent("#preview .title"), "Saved searches are here");
  await page.selectOption("#preview-language", "nb");
  assert.equal(await page.textContent("#preview .title"), "Lagrede søk er her");
  assert.equal(await page.textContent("#preview .body"), "Lagre et søk og finn det igjen under Favoritter.");
  assert.equal(await page.getAttribute("#preview li", "lang"), "nb");
  await page.check('#audience-tenants label:has-text("Contoso (test)") input');
  await page.fill("#apps", "e2e");
  await axe(page, "editor");

  await page.click("#publish");
  await waitFor(async () => (await rowOf(page, "Saved searches are here").count()) === 1);
  const row = rowOf(page, "Saved searches are here");
  assert.equal(await row.locator(".status").textContent(), "Live");
  assert.match(await row.textContent(), /Contoso \(test\)/);

  assert.deepEqual(await userSees("reader-1"), ["Lagrede søk er her"]); // in the user's language
  assert.deepEqual(await userSees("reader-2"), ["Lagrede søk er her"]);
  const outsider = await browser.newContext();
  const other = await outsider.newPage();
  await other.goto(`${base}/client/demo/notifications.html?user=x&tenant=other-tenant&app=e2e`);
  await other.waitForFunction(() => document.body.dataset.ready === "true");
  assert.deepEqual(await other.$$eval("#centre .title", (n) => n.length), 0); // another company: nothing
  await outsider.close();

  await page.reload();
  await page.waitForFunction(() => document.body.dataset.ready === "true");
  await rowOf(page, "Saved searches are here").locator("button").click();
  await page.waitForFunction(() => document.querySelectorAll("#reach-totals dd").length > 0);
  const totals = await page.$$eval("#reach-totals dt", (dts) => Object.fromEntries(dts.map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
  // reach is released per closed UTC day: today is in progress, nothing released yet
  assert.equal(totals.Delivered, "hidden");
  assert.equal(totals["Link opened"], "hidden"); // hidden, never 0
  const today = await page.$$eval("#reach-days tbody tr:last-child td", (tds) => tds.map((td) => td.textContent));
  assert.deepEqual(new Set(today), new Set(["in progress"]));
  await axe(page, "reach");
  await page.close();
});

test("a survey: publish, two answers, results with their freshness; duplicate makes a draft", async () => {
  const page = await openAuthoring();
  await page.click("#new-survey");
  await page.fill("#en-title", "Quick question");
  await page.fill("#en-question", "How likely are you to recommend Cetegra Workspace?");
  await page.fill("#nb-question", "Hvor sannsynlig er det at du anbefaler Cetegra Workspace?");
  await page.fill("#apps", "e2e-survey");
  assert.equal(await page.$$eval("#preview .scale button", (b) => b.length), 11); // the prompt's own scale
  await page.click("#publish");
  await waitFor(async () => (await rowOf(page, "Quick question").count()) === 1);
  const survey = (await api("GET", "/authoring/items", OPS)).body.items.find((i) => i.title === "Quick question");
  for (const user of ["s1", "s2"]) {
    const who = principal(user, [], TENANT);
    const answered = await api("POST", `/notifications/${survey.id}/answer`, who, { value: 9 });
    assert.equal(answered.status, 204);
  }
  await page.reload();
  await page.waitForFunction(() => document.body.dataset.ready === "true");
  await rowOf(page, "Quick question").locator("button").click();
  await page.waitForFunction(() => !document.getElementById("results").hidden);
  const figures = await page.$$eval("#results-figures dt", (dts) => Object.fromEntries(dts.map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
  assert.equal(figures.Status, "Live");
  // results are released at scheduled snapshots: none before the first, which the page names
  assert.equal(figures.Answers, "–");
  assert.match(await page.textContent("#freshness"), /^The first results come from .* UTC\.$/);
  await axe(page, "survey");

  await page.click("#duplicate");
  await page.waitForFunction(() => document.getElementById("editor-status").textContent.startsWith("A draft copy"));
  const copies = (await api("GET", "/authoring/items", OPS)).body.items.filter((i) => i.title === "Quick question");
  assert.deepEqual(copies.map((i) => i.status).sort(), ["draft", "published"]);
  await axe(page, "list");
  await page.close();
});
