// Unit test of Dash.safeNext (static/src/js/00-core.js), where the sign-in page
// goes once signed in: only pages of this site, whatever `next` says (issue 12:
// "/%09/evil.example/phish" sent the browser to evil.example). Node's URL is the
// same WHATWG parser the browser uses; run.mjs checks the same values in
// Chromium, end to end.
//
//   node --test tests/browser/
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const here = path.dirname(fileURLToPath(import.meta.url));
const core = fs.readFileSync(path.join(here, '..', '..', 'static', 'src', 'js', '00-core.js'), 'utf8');
const ORIGIN = 'https://plant.example';

/// The page's `Dash`, from 00-core.js run against a minimal window for a site
/// mounted at `base` ('' or e.g. '/dashboard-app').
function dashAt(base) {
  const window = {};
  const document = {
    addEventListener() {},
    documentElement: { getAttribute: (name) => (name === 'data-base' ? base : null) },
  };
  const location = new URL(`${ORIGIN}${base}/login`);
  vm.runInNewContext(core, { window, document, location, URL, URLSearchParams });
  return window.Dash;
}

// As they arrive in `next` once the query string is decoded.
const EVIL = [
  '/\t/evil.example/phish', // the probe's "/%09/evil.example/phish"
  '/\n/evil.example',
  '/\r\n/evil.example',
  '\n//evil.example', // "%0a//evil.example"
  '//evil.example',
  '/\\evil.example',
  '/\t\\evil.example',
  '\\/evil.example',
  'https://evil.example',
  'HTTPS://evil.example/',
  'javascript:alert(1)',
  'data:text/html,x',
  ' //evil.example',
  'evil.example',
  '',
  null,
  undefined,
];

for (const base of ['', '/dashboard-app']) {
  const Dash = dashAt(base);
  const home = `${ORIGIN}${base}/dashboard`;

  test(`evil next values fall back to the dashboard (base "${base}")`, () => {
    for (const next of EVIL) {
      assert.equal(Dash.safeNext(next), home, JSON.stringify(next));
    }
  });

  test(`pages of the site are kept, below the base path (base "${base}")`, () => {
    assert.equal(Dash.safeNext('/lines/2?range=24h'), `${ORIGIN}${base}/lines/2?range=24h`);
    assert.equal(Dash.safeNext('/reports#oee'), `${ORIGIN}${base}/reports#oee`);
    // Dot segments cannot climb out of the origin; the result stays absolute,
    // so a resolved "//x" path is never read as a host.
    assert.equal(new URL(Dash.safeNext('/.//evil.example')).origin, ORIGIN);
    assert.equal(new URL(Dash.safeNext('/../../evil.example')).origin, ORIGIN);
  });
}
