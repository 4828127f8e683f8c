// What the browser tests share: the repository paths, a free port, polling, the principal header,
// the local host (`python -m tools.localhost`, with its own Azurite), the headless Chromium, a
// static server for a second site, and a recording proxy that can hold or refuse API requests.
// VENV_PYTHON overrides the project's `.venv/bin/python` (e.g. a checkout without its own venv).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer as createHttpServer, request as httpRequest } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, normalize } from "node:path";
import { chromium } from "playwright-core";

export const ROOT = new URL("../../", import.meta.url).pathname;
export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
export const PYTHON = process.env.VENV_PYTHON || join(ROOT, ".venv/bin/python");

export const freePort = () =>
  new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

export const waitFor = async (check, ms = 10000) => {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail("condition not met in time");
};

/** Cegal's staff tenant of these tests' local host (STAFF_TENANT_IDS): analytics roles count only there. */
export const STAFF_TENANT = "ce9a1000-57af-4000-8000-000000000001";

/**
 * The Easy Auth principal header (base64 JSON of claims) of `user` in `tenant` with `roles`; a
 * principal with an analytics role (Reader, Author, Operator) is staff, so its tenant defaults to
 * STAFF_TENANT, everyone else's to "demo-tenant".
 */
export const principal = (user, roles = [], tenant = roles.some((r) => r.startsWith("Cetegra.Analytics.")) ? STAFF_TENANT : "demo-tenant") =>
  Buffer.from(JSON.stringify({ auth_typ: "aad", role_typ: "roles", claims: [
    { typ: "oid", val: user }, { typ: "tid", val: tenant }, ...roles.map((val) => ({ typ: "roles", val })),
  ] })).toString("base64");

/**
 * The local host on 127.0.0.1:`port` (in-process, no `func`) with a fresh dev salt, policy
 * 2026-04, declined events dropped, STAFF_TENANT as the staff tenant and no demo data (these tests
 * seed their own), plus `env`; resolves to its process once /api/health
 * answers (60 s), else stops it and fails with its stderr.
 */
export async function startLocalHost(port, env = {}) {
  const host = spawn(PYTHON, ["-m", "tools.localhost", "--port", String(port), "--no-func"], {
    cwd: ROOT,
    env: { ...process.env, DEV_SALT_FILE: join(mkdtempSync(join(tmpdir(), "cetegra-")), "salt"),
           POLICY_VERSION: "2026-04", DECLINED_MODE: "drop", DEMO_DATA: "0", STAFF_TENANT_IDS: STAFF_TENANT, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  host.stderr.on("data", (chunk) => { log += chunk; });
  await waitFor(async () => {
    try { return (await fetch(`http://127.0.0.1:${port}/api/health`)).ok; } catch { return false; }
  }, 60000).catch(() => {
    host.kill("SIGTERM");
    assert.fail(`local host did not start:\n${log}`);
  });
  return host;
}

/** Headless Chromium without background traffic; `args` are added to the common flags. */
export const launchBrowser = (args = []) =>
  chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", ...args],
  });

/**
 * The demo pages and the client modules from another site (`http://localhost:<port>`): only static
 * files of client/, no API. A page there calling the API on 127.0.0.1 is cross-site.
 */
export function serveStatic(port) {
  const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8" };
  const server = createHttpServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    const relative = path === "/" ? "demo/index.html" : path.startsWith("/client/") ? path.slice(8) : null;
    const file = relative && normalize(join(ROOT, "client", relative));
    const type = file && types[file.slice(file.lastIndexOf("."))];
    if (!file || !type || !file.startsWith(join(ROOT, "client"))) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "Content-Type": type, "Cache-Control": "no-store" }).end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

/**
 * A recording proxy on 127.0.0.1:`port` in front of the local host on `target`: every request is
 * recorded as the server receives it (`requests`: method, path, headers, body, time), forwarded,
 * and answered with the host's answer, unless a rule (`rules.push({match, hang, delay, status,
 * headers, times})`) holds it unanswered (an API that hangs), forwards it `delay` ms late, or answers
 * it itself (`status`, with the CORS headers a real edge would add); `times` uses a rule up. `eventsOpen`/`eventsMaxOpen` count POST /api/events requests in flight.
 */
export function startProxy(port, target) {
  const proxy = { requests: [], rules: [], held: [], eventsOpen: 0, eventsMaxOpen: 0, server: null };
  proxy.server = createHttpServer((req, res) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const record = { method: req.method, path: req.url, headers: req.headers, body: body.toString(), at: Date.now() };
      proxy.requests.push(record);
      const isEvents = req.method === "POST" && req.url === "/api/events";
      if (isEvents) {
        proxy.eventsOpen += 1;
        proxy.eventsMaxOpen = Math.max(proxy.eventsMaxOpen, proxy.eventsOpen);
        res.on("close", () => { proxy.eventsOpen -= 1; });
      }
      const rule = req.method === "OPTIONS" ? null : proxy.rules.find((r) => r.match(record));
      if (rule) {
        if (rule.times !== undefined && --rule.times <= 0) proxy.rules.splice(proxy.rules.indexOf(rule), 1);
        if (rule.hang) {
          proxy.held.push(res); // never answered (until the browser gives up or the test ends)
          return;
        }
        if (rule.delay) {
          setTimeout(() => forward(req, res, body), rule.delay); // answered, but late
          return;
        }
        const origin = req.headers.origin;
        res.writeHead(rule.status, {
          "Content-Type": "application/json",
          ...(origin ? { "Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true",
                         "Access-Control-Expose-Headers": "Retry-After", Vary: "Origin" } : {}),
          ...(rule.headers || {}),
        }).end(rule.body || '{"error":{"code":"storage_unavailable","message":"unavailable"}}');
        return;
      }
      forward(req, res, body);
    });
  });
  const forward = (req, res, body) => {
    const upstream = httpRequest({ host: "127.0.0.1", port: target, method: req.method, path: req.url,
                                   headers: { ...req.headers, host: `127.0.0.1:${target}` } }, (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    upstream.end(body);
  };
  proxy.close = () => {
    for (const res of proxy.held) res.destroy();
    proxy.server.closeAllConnections?.();
    proxy.server.close();
  };
  /** POST /api/events bodies received, as arrays of event ids. */
  proxy.eventPosts = () =>
    proxy.requests.filter((r) => r.method === "POST" && r.path === "/api/events")
      .map((r) => { try { return JSON.parse(r.body).events.map((e) => e.event_id); } catch { return []; } });
  return new Promise((resolve) => proxy.server.listen(port, "127.0.0.1", () => resolve(proxy)));
}
