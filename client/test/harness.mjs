// What the browser tests share: the repository paths, a free port, polling, the principal header,
// the local host (`python -m tools.localhost`, with its own Azurite) and the headless Chromium.
// VENV_PYTHON overrides the project's `.venv/bin/python` (e.g. a checkout without its own venv).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

/** The Easy Auth principal header (base64 JSON of claims) of `user` in `tenant` with `roles`. */
export const principal = (user, roles = [], tenant = "demo-tenant") =>
  Buffer.from(JSON.stringify({ auth_typ: "aad", role_typ: "roles", claims: [
    { typ: "oid", val: user }, { typ: "tid", val: tenant }, ...roles.map((val) => ({ typ: "roles", val })),
  ] })).toString("base64");

/**
 * The local host on 127.0.0.1:`port` (in-process, no `func`) with a fresh dev salt, policy
 * 2026-04, declined events dropped and no demo data (these tests seed their own), plus `env`; resolves to its process once /api/health
 * answers (60 s), else stops it and fails with its stderr.
 */
export async function startLocalHost(port, env = {}) {
  const host = spawn(PYTHON, ["-m", "tools.localhost", "--port", String(port), "--no-func"], {
    cwd: ROOT,
    env: { ...process.env, DEV_SALT_FILE: join(mkdtempSync(join(tmpdir(), "cetegra-")), "salt"),
           POLICY_VERSION: "2026-04", DECLINED_MODE: "drop", DEMO_DATA: "0", ...env },
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
