// htmx wiring: the CSRF header on every request, ETag revalidation of widgets
// (a 304 leaves the widget as it is), one session refresh on 401, and an error
// card in place of a widget that fails or times out — never a blocked page.
(function () {
  'use strict';
  var Dash = window.Dash;

  function boot() {
    var htmx = window.htmx;
    if (!htmx) return;
    htmx.config.allowEval = false;
    // Partials carry JSON data islands (<script type="application/json">), which htmx
    // would strip with allowScriptTags=false; executable inline scripts are blocked by the CSP anyway.
    htmx.config.allowScriptTags = true;
    htmx.config.includeIndicatorStyles = false;
    htmx.config.selfRequestsOnly = true;
    htmx.config.timeout = 25000;
    htmx.config.historyCacheSize = 0;
    htmx.config.responseHandling = [
      { code: '204', swap: false },
      { code: '304', swap: false },
      { code: '401', swap: false, error: false },
      { code: '[23]..', swap: true },
      { code: '[45]..', swap: true, error: true },
      { code: '...', swap: false },
    ];
  }
  boot();

  function errorCard(target, message) {
    if (!target) return;
    var tpl = document.getElementById('tpl-widget-error');
    target.textContent = '';
    if (tpl && tpl.content) {
      var node = tpl.content.cloneNode(true);
      var msg = node.querySelector('[data-slot="message"]');
      if (msg) msg.textContent = message;
      target.appendChild(node);
    } else {
      var p = document.createElement('p');
      p.className = 'state-bad text-sm';
      p.textContent = message;
      target.appendChild(p);
    }
  }

  document.addEventListener('htmx:configRequest', function (ev) {
    var d = ev.detail;
    d.headers['X-CSRF-Token'] = Dash.csrf();
    var elt = d.elt;
    if (elt && elt.hasAttribute('data-etag') && d.verb === 'get') {
      // The ETag is a digest of what the widget shows: the same digest for
      // new parameters means the same content, so a 304 is right either way.
      d.headers['If-None-Match'] = elt.getAttribute('data-etag');
    }
  });

  document.addEventListener('htmx:afterRequest', function (ev) {
    var d = ev.detail;
    var xhr = d.xhr;
    var elt = d.elt;
    if (!xhr || !elt || !elt.hasAttribute('data-widget-body')) return;
    if (xhr.status === 200) {
      var etag = xhr.getResponseHeader('ETag');
      if (etag) {
        elt.setAttribute('data-etag', etag);
      } else {
        elt.removeAttribute('data-etag');
      }
    }
    var card = elt.closest('[data-widget]');
    if (card) card.setAttribute('data-updated', String(Date.now()));
  });

  document.addEventListener('htmx:beforeSwap', function (ev) {
    var d = ev.detail;
    if (d.xhr && d.xhr.status === 401) {
      d.shouldSwap = false;
      var elt = d.elt;
      Dash.refreshSession().then(function (ok) {
        if (ok) window.htmx.trigger(elt, 'dash:retry');
        else Dash.toLogin();
      });
    }
  });

  function failed(ev, message) {
    var elt = ev.detail && ev.detail.elt;
    if (elt && elt.hasAttribute('data-widget-body')) {
      errorCard(elt, message);
    } else {
      Dash.toast(message, 'error');
    }
  }
  document.addEventListener('htmx:timeout', function (ev) {
    failed(ev, Dash.t('js.timeout'));
  });
  document.addEventListener('htmx:sendError', function (ev) {
    failed(ev, Dash.t('js.network_error'));
  });
  document.addEventListener('htmx:responseError', function (ev) {
    var d = ev.detail;
    // Widgets render their own error card (the server sends it); other requests get a toast.
    if (d.elt && d.elt.hasAttribute('data-widget-body')) return;
    if (d.xhr && d.xhr.status === 401) return;
    var message = Dash.t('js.request_failed');
    try {
      var body = JSON.parse(d.xhr.responseText);
      if (body && body.error && body.error.message) message = body.error.message;
    } catch (e) {
      /* an HTML error page */
    }
    Dash.toast(message, 'error');
  });

  // Servers may ask for a toast after a successful request: HX-Trigger: {"dash:toast": {...}}.
  document.addEventListener('DOMContentLoaded', function () {
    document.body.addEventListener('dash:toast', function (ev) {
      var d = ev.detail || {};
      Dash.toast(d.message || '', d.kind || 'success');
    });
  });

  // Manual refresh buttons: <button data-refresh-widget> inside a widget card
  // that loads on its own (a board's cards refresh with the board, 25-board.js).
  document.addEventListener('click', function (ev) {
    var btn = ev.target.closest ? ev.target.closest('[data-refresh-widget]') : null;
    if (!btn || btn.closest('[data-board]')) return;
    var card = btn.closest('[data-widget]');
    var body = card && card.querySelector('[data-widget-body]');
    if (body && window.htmx) {
      body.removeAttribute('data-etag');
      window.htmx.trigger(body, 'dash:retry');
    }
  });
})();
