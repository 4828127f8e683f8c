// The committed bundle (client/reports/dist/) is exactly what its sources and the locked
// esbuild/uPlot versions produce: nobody can ship a hand-edited or stale bundle. Rebuild with
// `make reports-bundle` (= node client/reports/build.mjs) after changing client/reports/src/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { buildInMemory } from "../reports/build.mjs";

const DIST = new URL("../reports/dist/", import.meta.url);

test("the committed bundle is reproducible from the sources", async () => {
  const built = await buildInMemory();
  assert.deepEqual(Object.keys(built).sort(), ["dist/reports.css", "dist/reports.js"]);
  for (const [path, text] of Object.entries(built)) {
    const committed = readFileSync(new URL(path.slice("dist/".length), DIST), "utf8");
    assert.ok(committed === text, `${path} differs from a fresh build: run make reports-bundle and commit dist/`);
  }
});

test("the bundle carries uPlot's licence notice and nothing the CSP would refuse", () => {
  const js = readFileSync(new URL("reports.js", DIST), "utf8");
  const css = readFileSync(new URL("reports.css", DIST), "utf8");
  assert.match(js.split("\n")[0], /uPlot 1\.6\.\d+ \(MIT/);
  assert.match(css, /\.uplot\{/); // uPlot's stylesheet is in ours, not fetched
  assert.doesNotMatch(js, /\beval\(|new Function|\.innerHTML|insertAdjacentHTML|document\.write|https?:\/\/(?!github\.com\/leeoniya|www\.w3\.org\/2000\/svg)[a-z]/);
  assert.doesNotMatch(css, /@import|url\(\s*["']?https?:/);
});
