// The authoring page's committed bundle (client/authoring/dist/) is exactly what its sources (and
// client/cetegra-notifications.js, whose renderers it bundles) produce with the locked esbuild:
// rebuild with `make authoring-bundle` (= node client/authoring/build.mjs) after a change.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { buildInMemory } from "../authoring/build.mjs";

const DIST = new URL("../authoring/dist/", import.meta.url);

test("the committed authoring bundle is reproducible from the sources", async () => {
  const built = await buildInMemory();
  assert.deepEqual(Object.keys(built).sort(), ["dist/authoring.css", "dist/authoring.js"]);
  for (const [path, text] of Object.entries(built)) {
    const committed = readFileSync(new URL(path.slice("dist/".length), DIST), "utf8");
    assert.ok(committed === text, `${path} differs from a fresh build: run make authoring-bundle and commit dist/`);
  }
});

test("the authoring bundle holds nothing the CSP would refuse and no HTML sink", () => {
  const js = readFileSync(new URL("authoring.js", DIST), "utf8");
  const css = readFileSync(new URL("authoring.css", DIST), "utf8");
  assert.doesNotMatch(js, /\beval\(|new Function|\.innerHTML|outerHTML|insertAdjacentHTML|document\.write|https?:\/\/[a-z]/);
  assert.doesNotMatch(css, /@import|url\(/);
});
