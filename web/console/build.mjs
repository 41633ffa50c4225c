// Builds the console into internal/console/dist (committed: `go build` needs
// no npm). Asset names carry their content hash, so the server may mark
// them immutable; index.html names them and is always revalidated.
import * as esbuild from 'esbuild';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', '..', 'internal', 'console', 'dist');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const result = await esbuild.build({
  entryPoints: { app: join(here, 'src', 'main.jsx'), style: join(here, 'src', 'style.css') },
  bundle: true,
  minify: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2020'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  entryNames: '[name]-[hash]',
  outdir: out,
  metafile: true,
  legalComments: 'linked',
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
});

const files = Object.keys(result.metafile.outputs).map((p) => basename(p));
const js = files.find((f) => /^app-.*\.js$/.test(f));
const css = files.find((f) => /^style-.*\.css$/.test(f));
// The CSS entry makes an empty JS stub of its own: drop it.
for (const f of files) {
  if (/^style-.*\.js$/.test(f)) rmSync(join(out, f));
}
const html = readFileSync(join(here, 'src', 'index.html'), 'utf8').replace('{{JS}}', js).replace('{{CSS}}', css);
writeFileSync(join(out, 'index.html'), html);
for (const f of readdirSync(out)) console.log(`${f}\t${statSync(join(out, f)).size} bytes`);
