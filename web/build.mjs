// Bundles the page into dist/: one script and one stylesheet (Uppy's CSS included), named by
// content hash so CloudFront and browsers may cache them for good, and index.html naming them.
// No inline script or style anywhere: the page runs under web/headers.json's CSP.
import { build } from "esbuild";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, "dist");

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });

const result = await build({
  entryPoints: { app: path.join(here, "src/main.js"), style: path.join(here, "src/app.css") },
  bundle: true,
  minify: true,
  sourcemap: true,
  format: "esm",
  target: ["es2020"],
  outdir: dist,
  entryNames: "[name]-[hash]",
  metafile: true,
  logLevel: "warning",
});

const outputs = Object.entries(result.metafile.outputs);
const named = (entry) => {
  const found = outputs.find(([, o]) => o.entryPoint && o.entryPoint.endsWith(entry));
  if (!found) throw new Error(`no output for ${entry}`);
  return path.basename(found[0]);
};
const html = (await readFile(path.join(here, "src/index.html"), "utf8"))
  .replace("{{script}}", named("src/main.js"))
  .replace("{{style}}", named("src/app.css"));
await writeFile(path.join(dist, "index.html"), html);
await writeFile(path.join(dist, "favicon.svg"), await readFile(path.join(here, "src/favicon.svg")));
console.log(`web/dist: ${named("src/main.js")}, ${named("src/app.css")}, index.html`);
