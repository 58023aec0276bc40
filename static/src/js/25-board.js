// The dashboard board: its widgets come with the page, and every refresh or
// filter change asks for all of them in ONE request to the batch route
// (GET /api/v1/dashboard/widgets?f_…, functions/dashboard/src/board.rs),
// revalidated with its ETag: a 304 leaves the board as it is. Fourteen
// requests per refresh met the per-user limit (100 a minute) in normal
// browsing; this is one per refresh, one per filter change.
//   * refresh: `refresh` seconds after the last answer (a filter change
//     restarts the wait), none while the tab is hidden (one on its return);
//   * a filter change (debounced 200 ms) cancels a request still running;
//   * 401: one session refresh, then the same request; 429: each card says
//     how long to wait (Retry-After) and the board asks again after it.
(function () {
  'use strict';
  var Dash = window.Dash;
  var FILTER_DELAY_MS = 200;
  var TIMEOUT_MS = 25000;

  function Board(grid, cfg) {
    this.grid = grid;
    this.src = cfg.src;
    this.etag = cfg.etag || null;
    this.refreshMs = Math.max(5, Number(cfg.refresh) || 30) * 1000;
    this.rateLimitedText = cfg.rate_limited || '';
    this.timer = null;
    this.filterTimer = null;
    this.inflight = null;
    this.paused = false;
    this.schedule(this.refreshMs);
  }

  Board.prototype.form = function () {
    return document.getElementById('dash-filters');
  };

  // The batch URL with the filter panel's values (empty ones left out).
  Board.prototype.url = function () {
    var q = new URLSearchParams();
    var form = this.form();
    if (form) {
      new FormData(form).forEach(function (v, k) {
        if (v !== '') q.append(k, v);
      });
    }
    var s = q.toString();
    return this.src + (s ? '?' + s : '');
  };

  // The next refresh in `ms`; none while the tab is hidden (it refreshes
  // when shown again): a tab left open in the background spends nothing.
  Board.prototype.schedule = function (ms) {
    var self = this;
    clearTimeout(self.timer);
    if (document.hidden) {
      self.paused = true;
      return;
    }
    self.timer = setTimeout(function () {
      self.load();
    }, ms);
  };

  Board.prototype.bodies = function () {
    return this.grid.querySelectorAll('[data-widget-body][data-slot]');
  };

  Board.prototype.busy = function (on) {
    this.grid.querySelectorAll('.htmx-indicator').forEach(function (el) {
      el.classList.toggle('htmx-request', on);
    });
  };

  Board.prototype.swap = function (body, html, status) {
    if (window.Chart) {
      body.querySelectorAll('canvas').forEach(function (c) {
        var ch = window.Chart.getChart(c);
        if (ch) ch.destroy();
      });
    }
    body.innerHTML = html;
    body.setAttribute('data-widget-status', String(status));
    if (Dash.drawCharts) Dash.drawCharts(body);
    var card = body.closest('[data-widget]');
    if (card) card.setAttribute('data-updated', String(Date.now()));
  };

  // The same error card on every widget (the board failed as a whole).
  Board.prototype.failAll = function (message) {
    this.bodies().forEach(function (body) {
      var tpl = document.getElementById('tpl-widget-error');
      body.textContent = '';
      if (tpl && tpl.content) {
        var node = tpl.content.cloneNode(true);
        var msg = node.querySelector('[data-slot="message"]');
        if (msg) msg.textContent = message;
        body.appendChild(node);
      } else {
        body.textContent = message;
      }
    });
  };

  Board.prototype.apply = function (widgets) {
    var self = this;
    (widgets || []).forEach(function (w) {
      var body = self.grid.querySelector('[data-widget-body][data-slot="' + w.slot + '"]');
      if (body) self.swap(body, w.html, w.status);
    });
  };

  // One request for every widget. `fresh`: without the ETag (a manual refresh).
  Board.prototype.load = function (fresh, retried) {
    var self = this;
    clearTimeout(self.timer);
    if (self.inflight) self.inflight.abort();
    var ctrl = new AbortController();
    self.inflight = ctrl;
    var timedOut = false;
    var deadline = setTimeout(function () {
      timedOut = true;
      ctrl.abort();
    }, TIMEOUT_MS);
    var headers = { Accept: 'application/json' };
    if (self.etag && !fresh) headers['If-None-Match'] = self.etag;
    self.busy(true);
    var next = self.refreshMs;
    fetch(self.url(), { credentials: 'same-origin', headers: headers, signal: ctrl.signal })
      .then(function (r) {
        if (r.status === 401 && !retried) {
          return Dash.refreshSession().then(function (ok) {
            if (!ok) return Dash.toLogin();
            self.inflight = null;
            return self.load(fresh, true);
          });
        }
        if (r.status === 304) return null;
        if (r.status === 429) {
          var wait = parseInt(r.headers.get('Retry-After'), 10) || 60;
          next = wait * 1000;
          self.failAll(self.rateLimitedText.replace('{seconds}', String(wait)));
          return null;
        }
        return r
          .json()
          .catch(function () {
            return null;
          })
          .then(function (body) {
            if (r.ok && body && body.data) {
              self.etag = r.headers.get('ETag');
              self.apply(body.data.widgets);
            } else {
              self.failAll(Dash.errorMessage({ status: r.status, data: body }));
            }
          });
      })
      .catch(function () {
        if (ctrl.signal.aborted && !timedOut) return 'superseded';
        self.failAll(Dash.t(timedOut ? 'js.timeout' : 'js.network_error'));
      })
      .then(function (outcome) {
        clearTimeout(deadline);
        if (outcome === 'superseded' || self.inflight !== ctrl) return;
        self.inflight = null;
        self.busy(false);
        self.grid.setAttribute('data-board-loaded', String(Date.now()));
        self.schedule(next);
      });
  };

  Board.prototype.filtersChanged = function () {
    var self = this;
    clearTimeout(self.filterTimer);
    self.filterTimer = setTimeout(function () {
      self.load();
    }, FILTER_DELAY_MS);
  };

  document.addEventListener('DOMContentLoaded', function () {
    var grid = document.querySelector('[data-board]');
    var cfg = Dash.readJson(document.getElementById('board-config'));
    if (!grid || !cfg) return;
    var board = new Board(grid, cfg);
    var form = board.form();
    if (form) {
      form.addEventListener('change', function () {
        board.filtersChanged();
      });
    }
    // A card's refresh or retry button refreshes the board, without the ETag.
    grid.addEventListener('click', function (ev) {
      var btn = ev.target.closest ? ev.target.closest('[data-refresh-widget]') : null;
      if (btn) board.load(true);
    });
    document.addEventListener('visibilitychange', function () {
      if (document.hidden) {
        clearTimeout(board.timer);
        board.paused = true;
      } else if (board.paused) {
        board.paused = false;
        board.load();
      }
    });
  });
})();
