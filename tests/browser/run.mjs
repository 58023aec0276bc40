#!/usr/bin/env node
// Browser test: a real headless Chromium (Debian's /usr/bin/chromium) driven by
// playwright-core signs in as each demo user, visits every page, and fails on
// any console error, uncaught exception, CSP violation or failed same-site
// request, and on a hostile name shown as markup; then justifies stops on a
// 390 px phone (one, a running one, several, an edit). Screenshots at 1280 px and
// 390 px wide go to tests/browser/artifacts/ (git-ignored).
//
//   BASE_URL=http://127.0.0.1:8080 node tests/browser/run.mjs
//
// Environment: BASE_URL (required), DEMO_PASSWORD (demo-password),
// CHROMIUM (/usr/bin/chromium), BROWSER_USERS (comma list, default
// "manager,operator,viewer,admin,superadmin"), BROWSER_SHOTS=0 to skip
// screenshots. Ends with "N passed, N failed" and exits non-zero on failure.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const artifacts = path.join(here, 'artifacts');
const BASE = (process.env.BASE_URL || '').replace(/\/$/, '');
const PASSWORD = process.env.DEMO_PASSWORD || 'demo-password';
const EXE = process.env.CHROMIUM || '/usr/bin/chromium';
const USERS = (process.env.BROWSER_USERS || 'manager,operator,viewer,admin,superadmin').split(',').map((s) => s.trim()).filter(Boolean);
const SHOTS = process.env.BROWSER_SHOTS !== '0';

if (!BASE) {
  console.error('run.mjs: set BASE_URL, e.g. BASE_URL=http://127.0.0.1:8080');
  process.exit(2);
}
fs.mkdirSync(artifacts, { recursive: true });

// What each role must be able to open (status 200) and what it must be refused (403).
const PAGES = {
  superadmin: { ok: ['/admin/tenants', '/admin/users', '/profile'], forbidden: ['/admin/config'] },
  admin: { ok: ['/dashboard', '/lines', '/downtime', '/reports', '/admin/users', '/admin/config', '/profile'], forbidden: ['/admin/tenants'] },
  manager: { ok: ['/dashboard', '/lines', '/downtime', '/reports', '/admin/config', '/profile'], forbidden: ['/admin/users', '/admin/tenants'] },
  operator: { ok: ['/dashboard', '/lines', '/downtime', '/reports', '/profile'], forbidden: ['/admin/users', '/admin/config', '/admin/tenants'] },
  viewer: { ok: ['/dashboard', '/lines', '/downtime', '/reports', '/profile'], forbidden: ['/admin/users', '/admin/config', '/admin/tenants'] },
};

let passed = 0;
let failed = 0;
const failures = [];
function check(name, ok, detail) {
  if (ok) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    failures.push(`${name}${detail ? ': ' + detail : ''}`);
    console.log(`FAIL ${name}${detail ? ': ' + detail : ''}`);
  }
}

const browser = await chromium.launch({
  executablePath: EXE,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

function watch(page, problems) {
  page.on('console', (msg) => {
    const text = msg.text();
    if (msg.type() === 'error' || /Content Security Policy|Refused to/i.test(text)) {
      // 4xx/5xx the page asked for on purpose (a widget whose engine is missing) are logged by Chromium
      // as "Failed to load resource"; those are judged by the request listener below instead.
      if (/Failed to load resource: the server responded with a status of (401|403|404|422|501|503)/.test(text)) return;
      problems.push(`console ${msg.type()}: ${text}`);
    }
  });
  page.on('pageerror', (err) => problems.push(`uncaught: ${err.message}`));
  page.on('requestfailed', (req) => {
    const u = req.url();
    if (u.startsWith(BASE) && !/aborted|ERR_ABORTED/i.test(req.failure()?.errorText || '')) {
      problems.push(`request failed: ${u} ${req.failure()?.errorText}`);
    }
  });
  page.on('response', (resp) => {
    const u = resp.url();
    if (u.startsWith(BASE) && resp.status() >= 500 && resp.status() !== 501 && resp.status() !== 503) {
      problems.push(`HTTP ${resp.status()} ${u}`);
    }
  });
}

async function shoot(page, name) {
  if (!SHOTS) return;
  for (const [w, h, tag] of [[1280, 900, 'desktop'], [390, 844, 'mobile']]) {
    await page.setViewportSize({ width: w, height: h });
    await page.waitForTimeout(350);
    await page.screenshot({ path: path.join(artifacts, `${name}-${tag}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

async function settle(page) {
  await page.waitForLoadState('networkidle', { timeout: 15000 }).catch(() => {});
  await page.waitForTimeout(300);
}

async function noRawMarkup(page, label) {
  // A hostile name rendered as HTML would create these nodes.
  const bad = await page.evaluate(() => {
    const imgs = [...document.querySelectorAll('img')].filter((i) => i.getAttribute('onerror'));
    const scripts = [...document.querySelectorAll('script')].filter((s) => /alert\(1\)/.test(s.textContent) && s.type !== 'application/json');
    return imgs.length + scripts.length;
  });
  check(`${label}: hostile names stay text`, bad === 0, `${bad} injected nodes`);
}

async function login(page, user, { navigate = true } = {}) {
  if (navigate) await page.goto(`${BASE}/login`);
  await page.fill('#username', user);
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL((u) => !u.pathname.endsWith('/login'), { timeout: 15000 }), page.click('button[type=submit]')]);
}

// 1. Anonymous: login page, redirect, static assets and headers.
{
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  const problems = [];
  watch(page, problems);
  const resp = await page.goto(`${BASE}/dashboard`);
  check('anonymous /dashboard redirects to /login', page.url().includes('/login?next='), page.url());
  const csp = resp && (await resp.allHeaders())['content-security-policy'];
  check('login page has a strict CSP', !!csp && /script-src 'self'/.test(csp) && !/unsafe-inline|unsafe-eval/.test(csp.split('style-src')[0]), csp);
  await settle(page);
  check('login page: dark by default', await page.evaluate(() => document.documentElement.classList.contains('dark')));
  const cssHref = await page.getAttribute('link[rel=stylesheet]', 'href');
  const css = await page.request.get(`${BASE}${cssHref.startsWith('/') ? '' : '/'}${cssHref.replace(/^https?:\/\/[^/]+/, '')}`);
  check('stylesheet has a content hash and a long cache', /\.[0-9a-f]{10}\.css$/.test(cssHref) && /max-age=31536000/.test(css.headers()['cache-control'] || ''), `${cssHref} ${css.headers()['cache-control']}`);
  await shoot(page, 'login');
  // Wrong password shows a message, not a crash.
  await page.fill('#username', 'manager');
  await page.fill('#password', 'wrong-password-123');
  await page.click('button[type=submit]');
  await page.waitForSelector('[role=alert]:visible', { timeout: 10000 }).catch(() => {});
  check('wrong password shows an error', await page.isVisible('form [role=alert]'));
  const r404 = await page.goto(`${BASE}/lines/999999`);
  check('anonymous deep link goes to login', page.url().includes('/login'), `${r404 && r404.status()} ${page.url()}`);
  check('anonymous pages: no console errors or CSP violations', problems.length === 0, problems.join(' | '));
  await ctx.close();
}

// 1b. After sign-in, `?next=` never leaves the site (issue 12: "/%09/evil.example/phish"
// sent the browser to evil.example, since the URL parser drops the tab). Requests to any
// other origin are refused here and counted, so nothing leaves the machine.
{
  const origin = new URL(BASE).origin;
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const offsite = [];
  await ctx.route(
    (u) => u.origin !== origin,
    (route) => {
      offsite.push(route.request().url());
      return route.abort();
    },
  );
  const page = await ctx.newPage();
  // As they appear in the address bar.
  for (const next of ['/%09/evil.example', '//evil.example', '/%5Cevil.example', 'https://evil.example', '%0a//evil.example', '/%0d%0a/evil.example']) {
    await page.goto(`${BASE}/login?next=${next}`);
    const target = await page.evaluate(() => window.Dash.safeNext(new URLSearchParams(location.search).get('next')));
    check(`next=${next} stays on the site`, new URL(target).origin === origin, target);
  }
  await page.goto(`${BASE}/login?next=/lines`);
  const kept = await page.evaluate(() => window.Dash.safeNext(new URLSearchParams(location.search).get('next')));
  check('next=/lines is followed', kept === `${origin}/lines`, kept);
  // The probe's request, end to end.
  await page.goto(`${BASE}/login?next=/%09/evil.example/phish`);
  try {
    await login(page, 'viewer', { navigate: false });
    const landed = new URL(page.url());
    check('sign-in with next=/%09/evil.example/phish lands on the site', landed.origin === origin && offsite.length === 0, `${page.url()} ${offsite.join(' ')}`);
  } catch (e) {
    check('sign-in with next=/%09/evil.example/phish lands on the site', false, `${e.message} ${page.url()} ${offsite.join(' ')}`);
  }
  await ctx.close();
}

// 2. Each demo user: every page of the role.
for (const user of USERS) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  const problems = [];
  watch(page, problems);
  try {
    await login(page, user);
    check(`${user}: signs in`, true);
  } catch (e) {
    check(`${user}: signs in`, false, e.message);
    await ctx.close();
    continue;
  }
  const plan = PAGES[user] || PAGES.viewer;
  for (const p of plan.ok) {
    const resp = await page.goto(`${BASE}${p}`);
    await settle(page);
    const status = resp ? resp.status() : 0;
    check(`${user} ${p}: 200`, status === 200, `status ${status}`);
    const hasShell = await page.isVisible('#sidebar, main');
    check(`${user} ${p}: page shell`, hasShell);
    await noRawMarkup(page, `${user} ${p}`);
    if (p === '/dashboard') {
      const cards = await page.locator('[data-widget]').count();
      check(`${user} /dashboard: widgets from the layout`, cards > 0, `${cards} cards`);
      // Every widget settles to content or its own error card — never a spinner forever.
      await page.waitForTimeout(1500);
      const stuck = await page.locator('[data-widget-body] .skeleton').count();
      check(`${user} /dashboard: no widget stuck loading`, stuck === 0, `${stuck} skeletons left`);
    }
    const name = `${user}${p.replace(/\//g, '_')}`;
    if (user === 'manager' || user === 'admin' || user === 'superadmin' || p === '/dashboard') await shoot(page, name);
  }
  for (const p of plan.forbidden) {
    const resp = await page.goto(`${BASE}${p}`);
    check(`${user} ${p}: 403 page`, resp && resp.status() === 403, `status ${resp && resp.status()}`);
  }
  const r = await page.goto(`${BASE}/lines/987654`);
  if (user !== 'superadmin') check(`${user} unknown line: 404 page`, r && r.status() === 404, `status ${r && r.status()}`);
  if (user === 'manager') {
    await shoot(page, 'error-404');
    // Theme toggle is remembered (cookie + localStorage) across a reload.
    await page.goto(`${BASE}/profile`);
    await settle(page);
    await page.click('header [data-action=theme-toggle]');
    await page.reload();
    await settle(page);
    check('theme toggle is remembered', !(await page.evaluate(() => document.documentElement.classList.contains('dark'))));
    await page.click('header [data-action=theme-toggle]');
    // English is available and complete enough to switch.
    await page.click('header [data-action=set-lang][data-lang=en]');
    await page.waitForLoadState('load');
    await settle(page);
    check('language switch to English', (await page.getAttribute('html', 'lang')) === 'en');
    await shoot(page, 'profile-en');
    await page.click('header [data-action=set-lang][data-lang=es]');
    await page.waitForLoadState('load');
    // Keyboard: the skip link is the first tab stop.
    await page.goto(`${BASE}/dashboard`);
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => document.activeElement && document.activeElement.getAttribute('href'));
    check('keyboard: skip link first', focused === '#main', String(focused));
  }
  check(`${user}: no console errors, CSP violations or failed requests`, problems.length === 0, problems.slice(0, 8).join(' | '));
  await ctx.close();
}

// 3. The dashboard's custom range on a phone: "Personalizado…" shows the from/to
// fields, and the widgets then ask for that window (not their own range). As
// admin2 (Second Plant): a user of its own, so the requests of section 2 do
// not count against its per-minute limit.
{
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await ctx.newPage();
  const problems = [];
  watch(page, problems);
  await login(page, 'admin2');
  await page.goto(`${BASE}/dashboard`);
  await settle(page);
  const hasRange = (await page.locator('#f-range').count()) === 1;
  check('phone /dashboard: a range filter', hasRange);
  if (hasRange) {
    check('phone /dashboard: from/to hidden until custom', !(await page.isVisible('#f-start')));
    await page.selectOption('#f-range', 'custom');
    await page.waitForSelector('#f-end', { state: 'visible', timeout: 5000 }).catch(() => {});
    const shown = (await page.isVisible('#f-start')) && (await page.isVisible('#f-end'));
    check('phone /dashboard: custom range shows from and to', shown);
    if (shown) {
      const withTime = (await page.getAttribute('#f-start', 'type')) === 'datetime-local';
      const day = (n) => new Date(Date.now() - n * 86400000).toISOString().slice(0, 10);
      const [from, to] = withTime ? [`${day(3)}T06:00`, `${day(1)}T18:00`] : [day(3), day(1)];
      await page.fill('#f-start', from);
      const asked = [];
      page.on('request', (r) => {
        if (new URL(r.url()).pathname.endsWith('/api/v1/dashboard/widgets')) asked.push(new URL(r.url()).searchParams);
      });
      await page.fill('#f-end', to);
      await page.locator('#f-end').dispatchEvent('change');
      await settle(page);
      const custom = asked.filter((q) => q.get('f_range') === 'custom' && q.get('f_start_date') === from && q.get('f_end_date') === to);
      check('phone /dashboard: widgets ask for the custom window', custom.length > 0 && custom.length === asked.length, `${custom.length} of ${asked.length} board requests`);
      check('phone /dashboard: the URL keeps the custom window', page.url().includes('f_range=custom') && page.url().includes('f_end_date='), page.url());
      const stuck = await page.locator('[data-widget-body] .skeleton').count();
      check('phone /dashboard: no widget stuck loading (custom range)', stuck === 0, `${stuck} skeletons left`);
      await shoot(page, 'dashboard-custom-range');
    }
  }
  check('phone /dashboard custom range: no console errors or failed requests', problems.length === 0, problems.slice(0, 8).join(' | '));
  await ctx.close();
}

// 4. One request per dashboard refresh (issue 14): the page carries its widgets,
// a filter change and a refresh are one request each to the batch route
// (/api/v1/dashboard/widgets), no widget loads on its own, and a 429 says on
// each card how long to wait. As admin2 (a user of its own: its own count).
{
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  const problems = [];
  watch(page, problems);
  await login(page, 'admin2');
  // Every request to the site that is not a static file, by kind.
  const seen = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (!r.url().startsWith(BASE) || u.pathname.includes('/static/')) return;
    const kind = u.pathname.endsWith('/api/v1/dashboard/widgets') ? 'batch' : u.pathname.includes('/api/v1/dashboard/widgets/') ? 'single' : r.resourceType() === 'document' ? 'page' : 'other';
    seen.push({ kind, url: r.url(), etag: r.headers()['if-none-match'] || null, request: r });
  });
  const count = (kind, from) => seen.slice(from).filter((s) => s.kind === kind).length;
  const statusOf = async (s) => {
    const resp = await s.request.response();
    return resp ? resp.status() : 0;
  };
  // A window of whole past days (in the URL, as the filter panel keeps it), so
  // nothing changes between two answers and the refresh can be a 304.
  await page.goto(`${BASE}/dashboard`);
  const withTime = (await page.locator('#f-start').count()) === 1 && (await page.getAttribute('#f-start', 'type')) === 'datetime-local';
  const day = (n) => new Date(Date.now() - n * 86400000).toISOString().slice(0, 10) + (withTime ? 'T00:00' : '');
  seen.length = 0;
  await page.goto(`${BASE}/dashboard?f_range=custom&f_start_date=${day(8)}&f_end_date=${day(1)}`);
  await settle(page);
  const cards = await page.locator('[data-board] [data-widget]').count();
  const filled = await page.locator('[data-board] [data-widget-body] .skeleton').count();
  check('board: the page carries its widgets', cards > 0 && filled === 0, `${cards} cards, ${filled} skeletons`);
  check('board: a load is one page request and no data request', count('page', 0) === 1 && count('batch', 0) === 0 && count('single', 0) === 0, JSON.stringify(seen.map((s) => s.kind)));

  // A filter change: one request for every widget.
  const before = seen.length;
  const select = (await page.locator('#f-line_id').count()) ? '#f-line_id' : '#f-range';
  const options = await page.$$eval(`${select} option`, (os) => os.map((o) => o.value));
  const current = await page.inputValue(select);
  await page.selectOption(select, options.find((v) => v !== current && v !== 'custom'));
  await page.waitForFunction(() => Number(document.querySelector('[data-board]').getAttribute('data-board-loaded') || 0) > 0, null, { timeout: 20000 }).catch(() => {});
  await settle(page);
  const change = seen.slice(before);
  check('board: a filter change is one request', count('batch', before) === 1 && count('single', before) === 0 && change.length === 1, JSON.stringify(change.map((s) => s.kind)));
  if (change.length) check('board: the filter change answers 200', (await statusOf(change[0])) === 200, String(await statusOf(change[0])));
  const after = await page.locator('[data-board] [data-widget-body][data-widget-status]').count();
  check('board: the answer reached every card', after === cards, `${after} of ${cards}`);

  // The 30-s refresh: one request, revalidated with the ETag.
  const refresh = Number((await page.evaluate(() => JSON.parse(document.getElementById('board-config').textContent).refresh)) || 30);
  const beforeRefresh = seen.length;
  await page.waitForTimeout(refresh * 1000 + 3000);
  const refreshed = seen.slice(beforeRefresh);
  check(`board: a ${refresh}-s refresh is one request`, count('batch', beforeRefresh) === 1 && refreshed.length === 1, JSON.stringify(refreshed.map((s) => s.kind)));
  if (refreshed.length) {
    const st = await statusOf(refreshed[0]);
    check('board: the refresh of an unchanged board is a 304 (ETag sent)', !!refreshed[0].etag && st === 304, `${refreshed[0].etag} ${st}`);
  }
  const dataRequests = count('batch', 0) + count('single', 0);
  console.log(`     board: ${seen.length} requests (${count('page', 0)} page, ${dataRequests} data) for a load, a filter change and a refresh`);

  // Over the limit: spend the minute's requests, then refresh by hand.
  let limited = null;
  for (let i = 0; i < 120 && !limited; i++) {
    const r = await page.request.get(`${BASE}/api/v1/dashboard/catalog`);
    if (r.status() === 429) limited = r;
  }
  check('board: the limit is met by hand', !!limited);
  if (limited) {
    const beforeLimited = seen.length;
    await page.click('[data-board] [data-widget] [data-refresh-widget]');
    await page.waitForFunction((n) => Number(document.querySelector('[data-board]').getAttribute('data-board-loaded') || 0) > n, await page.evaluate(() => Number(document.querySelector('[data-board]').getAttribute('data-board-loaded') || 0)), { timeout: 20000 }).catch(() => {});
    const asked = seen.slice(beforeLimited);
    const st = asked.length ? await statusOf(asked[0]) : 0;
    const texts = await page.locator('[data-board] [data-widget-body] [role=alert]').allTextContents();
    const waits = texts.filter((t) => /\d+\s*s\b/.test(t));
    check('board: a 429 says on every card how long to wait', st === 429 && texts.length === cards && waits.length === cards, `${st}; ${texts.length} alerts of ${cards}: ${texts[0] || ''}`);
    await shoot(page, 'dashboard-rate-limited');
  }
  check('board: no console errors or failed requests', problems.filter((p) => !/status of 429/.test(p)).length === 0, problems.slice(0, 8).join(' | '));
  await ctx.close();
}

// 5. Reason capture on a 390 px phone (issue 14), as the operator: the downtime
// page opens on the stops still waiting for a reason (the operator's prompt);
// justify one, the running stop (the demo leaves line 2 stopped), several at
// once, and edit a justified one — with nothing wider than the screen, the
// dialog included (document.documentElement.scrollWidth <= 390).
{
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await ctx.newPage();
  const problems = [];
  watch(page, problems);
  const fits = async (what) => {
    const w = await page.evaluate(() => document.documentElement.scrollWidth);
    check(`phone /downtime ${what}: no horizontal scroll`, w <= 390, `scrollWidth ${w}`);
  };
  const dialogFits = async (what) => {
    const box = await page.locator('[role=dialog] form').boundingBox();
    check(`phone /downtime ${what}: the dialog is on screen`, !!box && box.x >= 0 && box.x + box.width <= 390 && box.y >= 0 && box.y + box.height <= 844, JSON.stringify(box));
    await fits(`${what} (dialog open)`);
  };
  const chooseAndSave = async (index) => {
    await page.selectOption('#justify-reason', { index });
    const reason = await page.$eval('#justify-reason', (el) => el.options[el.selectedIndex].textContent.split(' — ').pop().trim());
    await Promise.all([page.waitForResponse((r) => r.url().includes('/api/v1/downtime') && r.request().method() !== 'GET', { timeout: 15000 }), page.click('[role=dialog] button[type=submit]')]);
    await settle(page);
    return reason;
  };
  // shoot() leaves the page at 1280 px; the checks here are at 390 px.
  const shootPhone = async (name) => {
    await shoot(page, name);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(200);
  };
  await login(page, 'operator');
  await page.goto(`${BASE}/downtime`);
  await settle(page);
  check('phone /downtime: an operator starts on the pending stops', await page.isChecked('[name="unjustified"]'));
  await fits('pending list');
  await shootPhone('downtime-pending');

  // A running stop: the demo's line 2.
  const runningCard = page.locator('[data-running-stop]').first();
  check('phone /downtime: the running stop is shown', (await runningCard.count()) > 0);
  if ((await runningCard.count()) > 0) {
    await runningCard.locator('button').click();
    await dialogFits('running stop');
    const reason = await chooseAndSave(2);
    const shown = await runningCard.locator('p').nth(1).textContent();
    check('phone /downtime: the running stop shows its reason', shown.includes(reason), `${shown} / ${reason}`);
    check('phone /downtime: the running stop now offers Edit', /Editar|Edit/.test(await runningCard.locator('button').textContent()));
    await fits('after justifying the running stop');
  }

  // One stop, through the prompt: the next pending stop opens after it.
  const rows = page.locator('[data-stop]');
  const before = await rows.count();
  check('phone /downtime: pending stops listed', before > 2, `${before} rows`);
  if (before > 2) {
    await page.click('[data-stop] [data-action] >> nth=0');
    await dialogFits('one stop');
    await chooseAndSave(1);
    check('phone /downtime: the justified stop leaves the pending list', (await rows.count()) === before - 1, `${before} -> ${await rows.count()}`);
    check('phone /downtime: the next pending stop is prompted', await page.isVisible('[role=dialog] form'));
    await page.click('[role=dialog] button.btn-secondary:has-text("Cancelar"), [role=dialog] button.btn-secondary:has-text("Cancel")');

    // Several at once.
    const n = await rows.count();
    await rows.nth(0).locator('input[type=checkbox]').check();
    await rows.nth(1).locator('input[type=checkbox]').check();
    check('phone /downtime: the selection bar shows', await page.isVisible('[data-bulk]'));
    await fits('with a selection');
    await page.click('[data-bulk]');
    await dialogFits('bulk');
    await chooseAndSave(3);
    check('phone /downtime: both selected stops are justified', (await rows.count()) === n - 2, `${n} -> ${await rows.count()}`);
    await shootPhone('downtime-after-bulk');
  }

  // Edit: every stop, then a justified one's reason changed.
  await page.uncheck('[name="unjustified"]');
  await settle(page);
  const justified = page.locator('[data-stop]').filter({ has: page.locator('[data-action]:has-text("Editar"), [data-action]:has-text("Edit")') }).first();
  check('phone /downtime: justified stops offer Edit', (await justified.count()) > 0);
  if ((await justified.count()) > 0) {
    const old = await justified.locator('[data-reason]').textContent();
    await justified.locator('[data-action]').click();
    check('phone /downtime: the dialog edits the reason', /Editar motivo|Edit reason/.test(await page.textContent('#justify-title')));
    await dialogFits('edit');
    const options = await page.$$eval('#justify-reason option', (os) => os.map((o) => o.textContent.split(' — ').pop().trim()));
    const index = options.findIndex((o, i) => i > 0 && o !== old.trim());
    const reason = await chooseAndSave(index);
    const now = await justified.locator('[data-reason]').textContent();
    check('phone /downtime: the edited stop shows its new reason', now.trim() === reason, `${old} -> ${now} (chose ${reason})`);
  }
  await fits('all stops');
  await shootPhone('downtime-all');
  check('phone /downtime: no console errors or failed requests', problems.length === 0, problems.slice(0, 8).join(' | '));
  await ctx.close();
}

await browser.close();
console.log(`\n${passed} passed, ${failed} failed`);
if (failed) {
  console.log('failures:\n  ' + failures.join('\n  '));
  process.exit(1);
}
