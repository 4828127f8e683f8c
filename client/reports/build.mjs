// Bundles the report page (src/ → dist/): one ES module and one stylesheet, uPlot included, no
// CDN. `node client/reports/build.mjs` writes dist/; client/test/reports-bundle.test.mjs builds in
// memory and compares, so the committed bundle is always the one these sources and the locked
// package versions produce (client/page-bundle.mjs: how every page is bundled).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { pageBundle } from "../page-bundle.mjs";

const uplot = JSON.parse(
  readFileSync(fileURLToPath(new URL("../../node_modules/uplot/package.json", import.meta.url)), "utf8"),
);

const bundle = pageBundle(import.meta.url, "reports", {
  js: `/* Cetegra Analytics report page. Bundled: uPlot ${uplot.version} (MIT, (c) Leon Sorokin, https://github.com/leeoniya/uPlot). */`,
  css: `/* Cetegra Analytics report page. Bundled: uPlot ${uplot.version} stylesheet (MIT, (c) Leon Sorokin). */`,
});

export const { options, buildInMemory } = bundle;

await bundle.main();
