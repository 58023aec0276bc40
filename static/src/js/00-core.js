// Core of the page scripts: cookies, CSRF, translations, toasts, the fetch
// helper (refreshes an expired session once, then retries), theme and language.
// Everything here runs under the strict CSP: no eval, no inline handlers, no
// inline styles — markup declares behaviour with data- attributes.
(function () {
  'use strict';

  var Dash = (window.Dash = window.Dash || {});

  function cookie(name) {
    var parts = document.cookie ? document.cookie.split(';') : [];
    for (var i = 0; i < parts.length; i++) {
      var kv = parts[i].trim();
      var eq = kv.indexOf('=');
      if (eq > 0 && kv.slice(0, eq) === name) return decodeURIComponent(kv.slice(eq + 1));
    }
    return null;
  }
  Dash.cookie = cookie;

  Dash.setCookie = function (name, value) {
    var secure = location.protocol === 'https:' ? '; Secure' : '';
    document.cookie = name + '=' + encodeURIComponent(value) + '; Path=/; Max-Age=31536000; SameSite=Lax' + secure;
  };

  Dash.csrf = function () {
    return cookie('dash_csrf') || '';
  };

  // The base path the site is mounted under (from <html data-base>).
  Dash.base = function () {
    return document.documentElement.getAttribute('data-base') || '';
  };
  Dash.url = function (path) {
    return Dash.base() + path;
  };

  // Translations for scripts come from the page (a JSON data island).
  var strings = null;
  Dash.t = function (key) {
    if (strings === null) {
      var el = document.getElementById('i18n-data');
      try {
        strings = el ? JSON.parse(el.textContent) : {};
      } catch (e) {
        strings = {};
      }
    }
    return Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key;
  };

  // Reads a JSON data island (<script type="application/json">): never executed, CSP-safe.
  Dash.readJson = function (el) {
    if (!el) return null;
    try {
      return JSON.parse(el.textContent);
    } catch (e) {
      return null;
    }
  };

  // ---------------------------------------------------------------- toasts
  var ICONS = { success: 'check_circle', error: 'error', warning: 'warning', info: 'info' };
  Dash.toast = function (message, kind, timeoutMs) {
    kind = kind || 'info';
    var region = document.getElementById('toasts');
    if (!region) return;
    var box = document.createElement('div');
    box.className = 'toast toast-' + kind;
    box.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    var icon = document.createElement('span');
    icon.className = 'icon icon-sm ' + ({ success: 'state-good', error: 'state-bad', warning: 'state-warning', info: 'text-info' }[kind] || '');
    icon.setAttribute('aria-hidden', 'true');
    icon.textContent = ICONS[kind] || 'info';
    var text = document.createElement('p');
    text.className = 'flex-1';
    text.textContent = message;
    var close = document.createElement('button');
    close.type = 'button';
    close.className = 'btn-icon -m-1';
    close.setAttribute('aria-label', Dash.t('js.close'));
    var x = document.createElement('span');
    x.className = 'icon icon-sm';
    x.setAttribute('aria-hidden', 'true');
    x.textContent = 'close';
    close.appendChild(x);
    close.addEventListener('click', function () {
      box.remove();
    });
    box.appendChild(icon);
    box.appendChild(text);
    box.appendChild(close);
    region.appendChild(box);
    setTimeout(function () {
      box.remove();
    }, timeoutMs || (kind === 'error' ? 8000 : 4000));
  };

  // ---------------------------------------------------------------- session refresh
  var refreshing = null;
  // One refresh at a time; resolves true when the cookies were renewed.
  Dash.refreshSession = function () {
    if (refreshing) return refreshing;
    refreshing = fetch(Dash.url('/api/v1/auth/refresh'), {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'X-CSRF-Token': Dash.csrf(), Accept: 'application/json' },
    })
      .then(function (r) {
        return r.ok;
      })
      .catch(function () {
        return false;
      })
      .then(function (ok) {
        setTimeout(function () {
          refreshing = null;
        }, 1000);
        return ok;
      });
    return refreshing;
  };

  Dash.toLogin = function () {
    // `next` is a path below the base path, as the server's own redirect to
    // the sign-in page writes it (Dash.safeNext puts the base back).
    var path = location.pathname;
    var base = Dash.base();
    if (base && path.indexOf(base + '/') === 0) path = path.slice(base.length);
    location.assign(Dash.url('/login?next=' + encodeURIComponent(path + location.search)));
  };

  // Where the sign-in page goes once signed in: `next` when it is a page of
  // this site, else the dashboard. Returns an absolute URL of this origin.
  // The browser's URL parser drops tabs and newlines and reads "\" as "/", so
  // "/%09/evil.example" is "//evil.example", another host (issue 12): `next`
  // must start with a single "/" after that clean-up, and its resolved URL must
  // have this origin.
  Dash.safeNext = function (next) {
    var fallback = new URL(Dash.url('/dashboard'), location.origin).href;
    var path = String(next || '').replace(/[\t\n\r]/g, '');
    if (!/^\/(?![\/\\])/.test(path)) return fallback;
    var target;
    try {
      target = new URL(Dash.url(path), location.origin);
    } catch (e) {
      return fallback;
    }
    return target.origin === location.origin ? target.href : fallback;
  };

  // fetch() with JSON, the CSRF header and one session refresh on 401.
  // Resolves {ok, status, data}; data is the parsed JSON body (or null).
  Dash.api = function (method, path, body, retried) {
    var headers = { Accept: 'application/json', 'X-CSRF-Token': Dash.csrf() };
    var init = { method: method, credentials: 'same-origin', headers: headers };
    if (body !== undefined && body !== null) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(Dash.url(path), init).then(function (r) {
      if (r.status === 401 && !retried && path.indexOf('/api/v1/auth/login') < 0) {
        return Dash.refreshSession().then(function (ok) {
          if (ok) return Dash.api(method, path, body, true);
          Dash.toLogin();
          return { ok: false, status: 401, data: null };
        });
      }
      var ct = r.headers.get('content-type') || '';
      var parse = ct.indexOf('json') >= 0 ? r.json().catch(function () { return null; }) : Promise.resolve(null);
      return parse.then(function (data) {
        return { ok: r.ok, status: r.status, data: data, headers: r.headers };
      });
    });
  };

  // The message of an API error body {"error": {"message"}} or a generic one.
  Dash.errorMessage = function (res) {
    if (res && res.data && res.data.error && res.data.error.message) return res.data.error.message;
    if (res && res.status === 0) return Dash.t('js.network_error');
    return Dash.t('js.request_failed');
  };

  // ---------------------------------------------------------------- theme and language
  Dash.setTheme = function (theme) {
    var dark = theme !== 'light';
    document.documentElement.classList.toggle('dark', dark);
    document.documentElement.setAttribute('data-theme', dark ? 'dark' : 'light');
    try {
      localStorage.setItem('theme', dark ? 'dark' : 'light');
    } catch (e) {
      /* private mode */
    }
    Dash.setCookie('theme', dark ? 'dark' : 'light');
    document.dispatchEvent(new CustomEvent('dash:theme', { detail: { dark: dark } }));
  };
  Dash.isDark = function () {
    return document.documentElement.classList.contains('dark');
  };

  // A choice made in another tab or before the cookie existed wins over the server's default.
  (function syncTheme() {
    var stored = null;
    try {
      stored = localStorage.getItem('theme');
    } catch (e) {
      stored = null;
    }
    if ((stored === 'dark' || stored === 'light') && cookie('theme') !== stored) {
      Dash.setTheme(stored);
    }
  })();

  Dash.setLang = function (lang) {
    Dash.setCookie('lang', lang === 'en' ? 'en' : 'es');
    location.reload();
  };

  // ---------------------------------------------------------------- formatting
  Dash.lang = function () {
    return document.documentElement.getAttribute('lang') || 'es';
  };
  Dash.fmtNumber = function (v, digits) {
    if (v === null || v === undefined || isNaN(v)) return '—';
    return Number(v).toLocaleString(Dash.lang() === 'en' ? 'en-US' : 'es-ES', {
      maximumFractionDigits: digits === undefined ? 0 : digits,
      minimumFractionDigits: digits === undefined ? 0 : digits,
    });
  };
  Dash.fmtPct = function (ratio) {
    if (ratio === null || ratio === undefined || isNaN(ratio)) return '—';
    return Dash.fmtNumber(ratio * 100, 1) + ' %';
  };

  // Declarative actions: <button data-action="theme-toggle"> etc. (no inline handlers).
  document.addEventListener('click', function (ev) {
    var el = ev.target.closest ? ev.target.closest('[data-action]') : null;
    if (!el) return;
    var action = el.getAttribute('data-action');
    if (action === 'theme-toggle') {
      Dash.setTheme(Dash.isDark() ? 'light' : 'dark');
    } else if (action === 'set-lang') {
      Dash.setLang(el.getAttribute('data-lang'));
    } else if (action === 'logout') {
      ev.preventDefault();
      Dash.api('POST', '/api/v1/auth/logout', null, true).then(function () {
        location.assign(Dash.url('/login'));
      });
    } else if (action === 'print') {
      window.print();
    } else if (action === 'go-back') {
      if (history.length > 1) history.back();
      else location.assign(Dash.url('/dashboard'));
    } else if (action === 'sidebar-toggle') {
      var collapsed = document.documentElement.classList.toggle('sidebar-collapsed');
      Dash.setCookie('sidebar', collapsed ? 'collapsed' : 'open');
    } else if (action === 'nav-open') {
      document.documentElement.classList.add('nav-open');
      var first = document.querySelector('#sidebar a');
      if (first) first.focus();
    } else if (action === 'nav-close') {
      document.documentElement.classList.remove('nav-open');
    }
  });

  document.addEventListener('keydown', function (ev) {
    if (ev.key !== 'Escape') return;
    document.documentElement.classList.remove('nav-open');
    document.querySelectorAll('details[data-menu][open]').forEach(function (d) {
      d.removeAttribute('open');
    });
  });

  // Dropdowns built on <details data-menu> close when clicking elsewhere.
  document.addEventListener('click', function (ev) {
    document.querySelectorAll('details[data-menu][open]').forEach(function (d) {
      if (!d.contains(ev.target)) d.removeAttribute('open');
    });
  });

  // <select data-navigate>: the chosen option's value is a URL of this site.
  document.addEventListener('change', function (ev) {
    var el = ev.target;
    if (el && el.matches && el.matches('select[data-navigate]') && el.value && el.value.charAt(0) === '/') {
      location.assign(el.value);
    }
  });

  // Messages a server-rendered page leaves for the toast region (data-toast on <body>).
  document.addEventListener('DOMContentLoaded', function () {
    // The session-refresh step page: renew the cookies, then show the page asked for.
    if (document.querySelector('[data-session-refresh]')) {
      Dash.refreshSession().then(function (ok) {
        if (ok) location.reload();
        else Dash.toLogin();
      });
    }
    var flash = document.body.getAttribute('data-toast');
    if (flash) Dash.toast(flash, document.body.getAttribute('data-toast-kind') || 'info');
  });
})();
