// How a page of client/ is bundled (src/main.js → dist/) with esbuild: one ES module and one
// stylesheet, minified, no CDN, each with its banner. Each page's build.mjs names its entry and
// banner; `node client/<page>/build.mjs` writes dist/, and the page's bundle test builds in memory
// and compares, so the committed bundle is the one the sources and locked package versions produce.
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";

/** The esbuild options, an in-memory build and the writing build of the page whose build.mjs
 * has the URL `buildUrl`. */
export function pageBundle(buildUrl, entry, banner) {
  const here = (path) => fileURLToPath(new URL(path, buildUrl));
  const options = {
    absWorkingDir: here("."),
    entryPoints: { [entry]: "src/main.js" },
    outdir: "dist",
    bundle: true,
    format: "esm",
    target: ["es2022", "chrome110", "firefox115", "safari16"],
    minify: true,
    legalComments: "none",
    charset: "utf8",
    sourcemap: false,
    banner,
    logLevel: "warning",
  };

  /** The bundle as {relative path: text}, without touching dist/. */
  async function buildInMemory() {
    const result = await esbuild.build({ ...options, write: false });
    return Object.fromEntries(result.outputFiles.map((f) => [f.path.slice(here("dist/").length - 5), f.text]));
  }

  /** Writes dist/ when the page's build.mjs is run as a script (not when a test imports it). */
  async function main() {
    if (process.argv[1] !== fileURLToPath(buildUrl)) return;
    await esbuild.build(options);
    for (const [name, text] of Object.entries(await buildInMemory())) console.log(`${name}: ${text.length} bytes`);
  }

  return { options, buildInMemory, main };
}
