// Bundle every top-level src/*.ts into ../src/featureviz/static/<name>.js.
// A new widget view only needs a new src/<name>.ts file exporting the
// anywidget module (`export default { render }`).

import { mkdirSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const srcDir = join(here, "src");
const outDir = resolve(here, "..", "src", "featureviz", "static");

const entryPoints = readdirSync(srcDir)
  .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
  .map((f) => join(srcDir, f))
  .filter((f) => statSync(f).isFile());

if (entryPoints.length === 0) {
  console.error("build.mjs: no entry points in", srcDir);
  process.exit(1);
}

mkdirSync(outDir, { recursive: true });

const result = await build({
  entryPoints,
  outdir: outDir,
  entryNames: "[name]",
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2020",
  minify: true,
  sourcemap: false,
  legalComments: "none",
  metafile: true,
  logLevel: "warning",
});

for (const [file, info] of Object.entries(result.metafile.outputs)) {
  console.log(`${file}  ${(info.bytes / 1024).toFixed(1)} KiB`);
}
