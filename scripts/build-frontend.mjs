#!/usr/bin/env node
// Builds the front end into static/dist/ (git-ignored):
//   - Tailwind CSS 4 (static/src/app.css, scanning templates/ and static/src/js/)
//     with the self-hosted @font-face rules (Inter, Material Symbols) prepended;
//   - vendor scripts from node_modules: htmx 2, Alpine.js (CSP build), Chart.js;
//   - our own scripts (static/src/js/*.js, concatenated in name order into app.js);
//   - fonts and the favicon.
// Every file gets a content hash in its name (name.<10 hex>.ext, what the Apache
// config caches for a year) and static/dist/manifest.json maps logical names to
// them: {"assets": {"app.css": "app.3f9c0a1b2d.css", ...}, "templates_digest": "..."}.
// The binaries embed static/dist (rust-embed) and templates/; templates_digest
// changes whenever a template changes, so cargo rebuilds the embedding crate.
//
//   node scripts/build-frontend.mjs            (npm run build)
//   node scripts/build-frontend.mjs --no-minify
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fontverter from 'fontverter';
import * as hb from 'harfbuzzjs';
import subsetFont from 'subset-font';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nm = path.join(root, 'node_modules');
const src = path.join(root, 'static', 'src');
const dist = path.join(root, 'static', 'dist');
const minify = !process.argv.includes('--no-minify');

const manifest = {};
const hash = (buf) => createHash('sha256').update(buf).digest('hex').slice(0, 10);

function emit(logical, buf) {
  const ext = path.extname(logical);
  const base = logical.slice(0, logical.length - ext.length);
  const name = `${base}.${hash(buf)}${ext}`;
  const out = path.join(dist, name);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, buf);
  manifest[logical] = name;
  return name;
}

function need(file) {
  if (!fs.existsSync(file)) {
    console.error(`build-frontend: ${path.relative(root, file)} is missing; run npm ci first`);
    process.exit(1);
  }
  return fs.readFileSync(file);
}

fs.rmSync(dist, { recursive: true, force: true });
fs.mkdirSync(dist, { recursive: true });

// Fonts first: the CSS names their hashed files.
const fontFaces = [];
for (const weight of [300, 400, 500, 600, 700]) {
  const file = `inter-latin-${weight}-normal.woff2`;
  const name = emit(`fonts/${file}`, need(path.join(nm, '@fontsource', 'inter', 'files', file)));
  fontFaces.push(
    `@font-face{font-family:"Inter";font-style:normal;font-display:swap;font-weight:${weight};` +
      `src:url("./${name}") format("woff2");` +
      'unicode-range:U+0000-00FF,U+0131,U+0152-0153,U+02BB-02BC,U+02C6,U+02DA,U+02DC,U+0304,U+0308,U+0329,U+2000-206F,U+20AC,U+2122,U+2191,U+2193,U+2212,U+2215,U+FEFF,U+FFFD}'
  );
}
const symbols = emit('fonts/material-symbols-outlined.woff2', await iconFont());
fontFaces.push(
  `@font-face{font-family:"Material Symbols Outlined";font-style:normal;font-weight:100 700;font-display:block;src:url("./${symbols}") format("woff2")}`
);

// Tailwind.
const tmpOut = path.join(dist, '.tailwind.css');
const cli = path.join(nm, '@tailwindcss', 'cli', 'dist', 'index.mjs');
need(cli);
execFileSync(process.execPath, [cli, '-i', path.join(src, 'app.css'), '-o', tmpOut, ...(minify ? ['--minify'] : [])], {
  cwd: root,
  stdio: ['ignore', 'ignore', 'inherit'],
});
const css = fontFaces.join('\n') + '\n' + fs.readFileSync(tmpOut, 'utf8');
fs.rmSync(tmpOut);
emit('app.css', Buffer.from(css));

// Vendor scripts.
emit('vendor/htmx.js', need(path.join(nm, 'htmx.org', 'dist', 'htmx.min.js')));
emit('vendor/alpine-csp.js', need(path.join(nm, '@alpinejs', 'csp', 'dist', 'cdn.min.js')));
emit('vendor/chart.js', need(path.join(nm, 'chart.js', 'dist', 'chart.umd.min.js')));

// Our scripts, in file-name order (00-core.js first).
const jsDir = path.join(src, 'js');
const parts = fs
  .readdirSync(jsDir)
  .filter((f) => f.endsWith('.js'))
  .sort()
  .map((f) => `/* ${f} */\n${fs.readFileSync(path.join(jsDir, f), 'utf8')}`);
emit('app.js', Buffer.from(parts.join('\n')));

emit('favicon.svg', need(path.join(src, 'favicon.svg')));

// Material Symbols holds ~3,800 icons (4 MB). We keep the ones the UI names:
// every identifier in the templates, the scripts and the Rust code that renders
// pages which the font turns into a single icon glyph by ligature. The subset
// keeps the letters and those icons' ligatures, so markup still writes
// <span class="icon">home</span>. No closure: other ligatures are dropped.
async function iconFont() {
  const woff2 = need(path.join(nm, 'material-symbols', 'material-symbols-outlined.woff2'));
  const ttf = await fontverter.convert(woff2, 'truetype');
  const face = new hb.Face(new hb.Blob(ttf), 0);
  const font = new hb.Font(face);
  const glyphsOf = (text) => {
    const b = new hb.Buffer();
    b.addText(text);
    b.guessSegmentProperties();
    hb.shape(font, b);
    return b.getGlyphInfos().map((g) => g.codepoint);
  };
  const byGlyph = new Map();
  for (const cp of Array.from(face.collectUnicodes())) {
    if (cp >= 0xe000) {
      const g = glyphsOf(String.fromCodePoint(cp));
      if (g.length === 1 && !byGlyph.has(g[0])) byGlyph.set(g[0], cp);
    }
  }
  const sources = [];
  const scan = (dir, exts) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) scan(p, exts);
      else if (exts.some((e) => entry.name.endsWith(e))) sources.push(fs.readFileSync(p, 'utf8'));
    }
  };
  scan(path.join(root, 'templates'), ['.hbs']);
  scan(path.join(src, 'js'), ['.js']);
  scan(path.join(root, 'functions', 'dashboard', 'src'), ['.rs']);
  const words = new Set();
  for (const text of sources) for (const m of text.matchAll(/[a-z][a-z0-9_]{1,40}/g)) words.add(m[0]);
  const keep = [];
  for (const w of [...words].sort()) {
    const g = glyphsOf(w);
    if (g.length === 1 && byGlyph.has(g[0])) keep.push(w);
  }
  const pua = keep.map((w) => String.fromCodePoint(byGlyph.get(glyphsOf(w)[0]))).join('');
  const letters = 'abcdefghijklmnopqrstuvwxyz0123456789_ ';
  const out = await subsetFont(woff2, letters + pua, {
    targetFormat: 'woff2',
    noLayoutClosure: true,
    variationAxes: { wght: 400, GRAD: 0, opsz: 24 },
  });
  fs.writeFileSync(path.join(dist, '.icons.txt'), keep.join('\n') + '\n');
  console.log(`build-frontend: ${keep.length} icons kept, Material Symbols ${(woff2.length / 1024).toFixed(0)} KiB -> ${(out.length / 1024).toFixed(0)} KiB`);
  return out;
}

// Templates digest: embedding crates rebuild when it changes.
const templatesDir = path.join(root, 'templates');
const digest = createHash('sha256');
const walk = (dir) => {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(p);
    else {
      digest.update(path.relative(templatesDir, p));
      digest.update(fs.readFileSync(p));
    }
  }
};
if (fs.existsSync(templatesDir)) walk(templatesDir);

const doc = { assets: manifest, templates_digest: digest.digest('hex').slice(0, 16) };
fs.writeFileSync(path.join(dist, 'manifest.json'), JSON.stringify(doc, null, 2) + '\n');
const total = Object.values(manifest).reduce((n, f) => n + fs.statSync(path.join(dist, f)).size, 0);
console.log(`build-frontend: ${Object.keys(manifest).length} files, ${(total / 1024).toFixed(0)} KiB -> static/dist/ (manifest.json)`);
