// The web client in a real browser: Debian's Chromium driven by playwright-core, against the
// local host (`python -m tools.localhost`) and the Azurite it starts. What is stored is read back
// through the ops export route, as an operator would.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const ROOT = new URL("../../", import.meta.url).pathname;
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
let base, host, browser;

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

const principal = (user, roles = []) =>
  Buffer.from(JSON.stringify({ auth_typ: "aad", role_typ: "roles", claims: [
    { typ: "oid", val: user }, { typ: "tid", val: "demo-tenant" }, ...roles.map((val) => ({ typ: "roles", val })),
  ] })).toString("base64");

async function stored(user) {
  const response = await fetch(`${base}/api/ops/export`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-MS-CLIENT-PRINCIPAL": principal("ops", ["Cetegra.Analytics.Operator"]) },
    body: JSON.stringify({ user_id: user, tenant_id: "demo-tenant" }),
  });
  assert.equal(response.status, 200);
  return (await response.json()).events;
}

async function open(context, user, query = "") {
  const page = await context.newPage();
  const posts = [];
  page.on("request", (request) => {
    if (request.url().endsWith("/api/events")) posts.push(request);
  });
  await page.goto(`${base}/?user=${user}${query}`);
  await page.waitForFunction(() => !document.querySelector("#consent").textContent.includes("loading"));
  return { page, posts };
}

const queued = (page) => page.evaluate(() => JSON.parse(sessionStorage.getItem("cetegra.analytics.queue") || "[]").length);
const waitFor = async (check, ms = 10000) => {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail("condition not met in time");
};

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  host = spawn(join(ROOT, ".venv/bin/python"), ["-m", "tools.localhost", "--port", String(port), "--no-func"], {
    cwd: ROOT,
    env: { ...process.env, DEV_SALT_FILE: join(mkdtempSync(join(tmpdir(), "cetegra-")), "salt"),
           POLICY_VERSION: "2026-04", DECLINED_MODE: "drop", CORS_ALLOWED_ORIGINS: base },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  host.stderr.on("data", (chunk) => { log += chunk; });
  await waitFor(async () => {
    try { return (await fetch(`${base}/api/health`)).ok; } catch { return false; }
  }, 60000).catch(() => assert.fail(`local host did not start:\n${log}`));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  host?.kill("SIGTERM");
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
  const second = await open(context, "tabs");
  const id1 = await first.page.textContent("#session");
  const id2 = await second.page.textContent("#session");
  assert.match(id1, /^[0-9a-f-]{36}$/);
  assert.notEqual(id1, id2);
  const cookies = await context.cookies();
  assert.deepEqual(cookies.map((c) => c.name), ["AppServiceAuthSession"]); // the session id is no cookie
  assert.equal(await first.page.evaluate(() => localStorage.length), 0);
  await first.page.close();
  const third = await open(context, "tabs");
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

test("the pagehide beacon delivers the last events", async () => {
  const context = await browser.newContext();
  const { page, posts } = await open(context, "leaves", "&batch=100&interval=600000");
  await page.click("#accept");
  await page.click("#launch");
  await page.click("#launch");
  assert.equal(await queued(page), 3);
  assert.equal(posts.length, 0);
  await page.goto("about:blank"); // pagehide: the queue leaves as a text/plain beacon
  await waitFor(async () => (await stored("leaves")).length === 3);
  await context.close();
});
