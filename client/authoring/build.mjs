// Bundles the authoring page (src/ → dist/) with esbuild: one ES module (the page and the
// notification centre's renderers from client/cetegra-notifications.js) and one stylesheet, no
// CDN. `node client/authoring/build.mjs` writes dist/; client/test/authoring-bundle.test.mjs
// builds in memory and compares, so the committed bundle is the one these sources produce.
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));

export const options = {
  absWorkingDir: here("."),
  entryPoints: { authoring: "src/main.js" },
  outdir: "dist",
  bundle: true,
  format: "esm",
  target: ["es2022", "chrome110", "firefox115", "safari16"],
  minify: true,
  legalComments: "none",
  charset: "utf8",
  sourcemap: false,
  banner: { js: "/* Cetegra Analytics authoring page. */", css: "/* Cetegra Analytics authoring page. */" },
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
