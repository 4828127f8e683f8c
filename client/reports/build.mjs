// Bundles the report page (src/ → dist/) with esbuild: one ES module and one stylesheet, uPlot
// included, no CDN. `node client/reports/build.mjs` writes dist/; the test
// client/test/reports-bundle.test.mjs builds in memory and compares, so the committed bundle is
// always the one these sources and the locked package versions produce.
import * as esbuild from "esbuild";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const uplot = JSON.parse(readFileSync(here("../../node_modules/uplot/package.json"), "utf8"));

export const options = {
  absWorkingDir: here("."),
  entryPoints: { reports: "src/main.js" },
  outdir: "dist",
  bundle: true,
  format: "esm",
  target: ["es2022", "chrome110", "firefox115", "safari16"],
  minify: true,
  legalComments: "none",
  charset: "utf8",
  sourcemap: false,
  banner: {
    js: `/* Cetegra Analytics report page. Bundled: uPlot ${uplot.version} (MIT, (c) Leon Sorokin, https://github.com/leeoniya/uPlot). */`,
    css: `/* Cetegra Analytics report page. Bundled: uPlot ${uplot.version} stylesheet (MIT, (c) Leon Sorokin). */`,
  },
  logLevel: "warning",
};

/** The bundle as {relative path: text}, without touching dist/. */
export async function buildInMemory() {
  const result = await esbuild.build({ ...options, write: false });
  return Object.fromEntries(result.outputFiles.map((f) => [f.path.slice(here("dist/").length - 5), f.text]));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await esbuild.build(options);
  for (const [name, text] of Object.entries(await buildInMemory())) console.log(`${name}: ${text.length} bytes`);
}
