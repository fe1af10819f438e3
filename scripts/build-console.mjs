#!/usr/bin/env node
// Bundle the web console (Preact + TSX under daemons/web/console/) with esbuild, offline: one minified script
// and one stylesheet whose names carry a hash of their content (so the daemon may let browsers cache them for
// a year), and a manifest naming them for the page shell. Run after tsc and the copy of daemons/web/public.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, existsSync, unlinkSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'daemons', 'web', 'console');
const outdir = path.join(root, 'dist', 'daemons', 'web', 'public');
if (!existsSync(outdir)) {
  console.error(`build-console: ${path.relative(root, outdir)} is missing: copy daemons/web/public into dist first`);
  process.exit(1);
}

const result = await build({
  absWorkingDir: root,
  entryPoints: [path.join(source, 'main.tsx'), path.join(source, 'console.css')],
  outdir,
  entryNames: 'console-[hash]',
  // What a page loads only when it is opened (the session player) is a chunk of its own, imported on demand:
  // ES modules (the page loads the entry with type="module").
  chunkNames: 'console-chunk-[hash]',
  splitting: true,
  bundle: true,
  minify: true,
  platform: 'browser',
  format: 'esm',
  target: ['es2020'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  tsconfig: path.join(source, 'tsconfig.json'),
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
});

const manifest = {};
// CSS a script imports (a library's stylesheet: the session player's) comes out as the script's own CSS bundle.
let importedCss;
for (const [file, meta] of Object.entries(result.metafile.outputs)) {
  const name = path.basename(file);
  if (name.endsWith('.js') && meta.cssBundle) importedCss = path.basename(meta.cssBundle);
}
// The page loads the two entries; every other script (a module imported on demand, and what it shares with
// the entry) is a chunk the entry fetches itself.
const chunks = [];
for (const [file, meta] of Object.entries(result.metafile.outputs)) {
  const name = path.basename(file);
  if (name === importedCss) continue;
  if (meta.entryPoint === 'daemons/web/console/main.tsx' && name.endsWith('.js')) manifest.js = name;
  else if (meta.entryPoint === 'daemons/web/console/console.css' && name.endsWith('.css')) manifest.css = name;
  else if (name.endsWith('.js')) chunks.push(name);
}
manifest.chunks = chunks.sort();
if (!manifest.js || !manifest.css) {
  console.error('build-console: esbuild produced no script or no stylesheet', Object.keys(result.metafile.outputs));
  process.exit(1);
}
// The page links one stylesheet: the imported CSS first, then the console's own (which may override it),
// in one file hashed by its content like the rest.
if (importedCss) {
  const body = Buffer.concat([readFileSync(path.join(outdir, importedCss)), Buffer.from('\n'), readFileSync(path.join(outdir, manifest.css))]);
  const name = `console-${createHash('sha256').update(body).digest('hex').slice(0, 12).toUpperCase()}.css`;
  writeFileSync(path.join(outdir, name), body);
  for (const old of [importedCss, manifest.css]) if (old !== name) unlinkSync(path.join(outdir, old));
  manifest.css = name;
}
writeFileSync(path.join(outdir, 'console-manifest.json'), JSON.stringify(manifest, null, 2) + '\n');

const sizes = [manifest.js, manifest.css, ...manifest.chunks].map((name) => {
  const body = readFileSync(path.join(outdir, name));
  return `${name} ${body.length} B (gzip ${gzipSync(body, { level: 9 }).length} B)`;
});
console.log(`console: ${sizes.join(', ')}`);
