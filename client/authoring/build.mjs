// Bundles the authoring page (src/ → dist/): one ES module (the page and the notification
// centre's renderers from client/cetegra-notifications.js) and one stylesheet, no CDN.
// `node client/authoring/build.mjs` writes dist/; client/test/authoring-bundle.test.mjs builds in
// memory and compares (client/page-bundle.mjs: how every page is bundled).
import { pageBundle } from "../page-bundle.mjs";

const bundle = pageBundle(import.meta.url, "authoring", {
  js: "/* Cetegra Analytics authoring page. */",
  css: "/* Cetegra Analytics authoring page. */",
});

export const { options, buildInMemory } = bundle;

await bundle.main();
