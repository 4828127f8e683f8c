import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
const API = `http://127.0.0.1:${readFileSync("/tmp/reportsrv/port", "utf8").trim()}`;
const reader = Buffer.from(JSON.stringify({ auth_typ: "aad", role_typ: "roles", claims: [
  { typ: "oid", val: "pm" }, { typ: "tid", val: "cegal" }, { typ: "roles", val: "Cetegra.Analytics.Reader" }] })).toString("base64");
const server = spawn(".venv/bin/python", ["client/test/reports_server.py", "8766"], { stdio: "inherit" });
await new Promise((r) => setTimeout(r, 1500));
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
const context = await browser.newContext({ viewport: { width: 1360, height: 900 }, locale: "en-GB" });
const page = await context.newPage();
await page.addInitScript(() => document.addEventListener("securitypolicyviolation", (e) => console.error("CSP", e.violatedDirective)));
page.on("console", (m) => m.type() === "error" && console.log("console", m.text()));
page.on("pageerror", (e) => console.log("pageerror", e));
const asked = [];
await page.route("**/api/reports/**", async (route) => {
  const u = new URL(route.request().url());
  const response = await route.fetch({ url: API + u.pathname + u.search, headers: { ...route.request().headers(), "x-ms-client-principal": reader } });
  asked.push(`${response.status()} ${u.pathname}${u.search}`);
  await route.fulfill({ response });
});
await page.goto("http://127.0.0.1:8766/reports/");
for (const tab of ["active", "adoption", "retention", "onboarding", "launch"]) {
  await page.click(`#tab-${tab}`);
  await page.waitForFunction((id) => { const p = document.getElementById(`panel-${id}`); return !p.hasAttribute("aria-busy") && (p.querySelector(".content").children.length || p.querySelector(".status").children.length); }, tab);
  await page.waitForTimeout(300);
  console.log(tab, (await page.textContent(`#panel-${tab} .status`)).slice(0, 200));
  await page.screenshot({ path: `/tmp/e2e/${tab}.png`, fullPage: true });
}
console.log(asked.join("\n"));
console.log(await page.$$eval("#f-tenant option", (o) => o.map((x) => x.textContent)));
await browser.close(); server.kill();
