// The downtime page (templates/pages/downtime.hbs; docs/downtime.md): the
// stops of the caller's lines as a list that fits a phone, the stop each line
// is in now (its reason kept until the job stores it: PUT
// /api/v1/downtime/running), justify or edit one stop (PUT
// /api/v1/downtime/{id} with its version), or several at once (POST
// /api/v1/downtime/justify). With "pending only" it is the operator's prompt:
// after each reason the next unjustified stop opens.
(function () {
  'use strict';
  var Dash = window.Dash;

  function keyOf(s) {
    return s.line_id + '-' + s.downtime_id;
  }

  document.addEventListener('alpine:init', function () {
    window.Alpine.data('downtimeList', function () {
      return {
        items: [],
        running: [],
        reasons: [],
        lines: {},
        loading: true,
        error: '',
        nextCursor: null,
        canJustify: false,
        selected: {},
        modalOpen: false,
        // What the dialog justifies: 'stop' (current), 'running' (current is
        // an open stop) or 'bulk' (the selection).
        mode: 'stop',
        current: null,
        form: { failure_id: '', justification: '' },
        formError: '',
        saving: false,
        init: function () {
          var cfg = Dash.readJson(document.getElementById('downtime-config')) || {};
          this.reasons = cfg.reasons || [];
          this.canJustify = !!cfg.can_justify;
          var self = this;
          (cfg.lines || []).forEach(function (l) {
            self.lines[l.line_id] = l.line_name;
          });
          this.load(false);
        },
        query: function () {
          var form = document.getElementById('downtime-filters');
          var params = new URLSearchParams();
          if (form) {
            new FormData(form).forEach(function (v, k) {
              if (v !== '') params.append(k, v);
            });
          }
          return params;
        },
        get onlyUnjustified() {
          var f = document.getElementById('downtime-filters');
          var box = f && f.querySelector('[name="unjustified"]');
          return !!(box && box.checked);
        },
        load: function (more) {
          var self = this;
          var params = self.query();
          if (!params.get('range') && !params.get('start_date')) params.set('range', 'last_7_days');
          params.delete('unjustified');
          if (self.onlyUnjustified) params.set('justified', 'false');
          params.set('limit', '50');
          if (more && self.nextCursor) params.set('cursor', self.nextCursor);
          self.loading = true;
          self.error = '';
          if (!more) self.selected = {};
          history.replaceState(null, '', location.pathname + '?' + self.query().toString());
          Dash.api('GET', '/api/v1/downtime?' + params.toString()).then(function (res) {
            self.loading = false;
            if (!res.ok) {
              self.error = Dash.errorMessage(res);
              return;
            }
            var rows = (res.data && res.data.data) || [];
            self.items = more ? self.items.concat(rows) : rows;
            if (!more) self.running = (res.data && res.data.open_stops) || [];
            self.nextCursor = (res.data && res.data.next_cursor) || null;
          });
        },
        loadMore: function () {
          this.load(true);
        },
        get visible() {
          var only = this.onlyUnjustified;
          return this.items.filter(function (s) {
            return !only || !s.failure_id;
          });
        },
        get empty() {
          return !this.loading && !this.error && this.visible.length === 0;
        },
        get pendingCount() {
          return this.items.filter(function (s) {
            return !s.failure_id;
          }).length;
        },
        lineName: function (s) {
          return this.lines[s.line_id] || '#' + s.line_id;
        },
        reasonName: function (s) {
          if (typeof s.reason === 'string' && s.reason) return s.reason;
          if (!s.failure_id) return Dash.t('js.unjustified');
          var r = this.reasons.find(function (x) {
            return x.failure_id === s.failure_id;
          });
          return r ? r.failure_name : '#' + s.failure_id;
        },
        when: function (s) {
          return Dash.fmtDateTime(s.start_time || s.since);
        },
        duration: function (s) {
          return Dash.fmtDuration(s.duration_seconds);
        },
        stateClass: function (s) {
          return s.failure_id ? 'badge-success' : 'badge-warning';
        },
        actionText: function (s) {
          return s.failure_id ? Dash.t('js.edit') : Dash.t('js.justify');
        },
        runningTitle: function (o) {
          return this.lineName(o) + ' · ' + Dash.t('js.stopped_since') + ' ' + this.when(o);
        },
        // ---------------------------------------------------- selection
        isSelected: function (s) {
          return !!this.selected[keyOf(s)];
        },
        toggle: function (s) {
          var next = Object.assign({}, this.selected);
          if (next[keyOf(s)]) delete next[keyOf(s)];
          else next[keyOf(s)] = s;
          this.selected = next;
        },
        get selectedCount() {
          return Object.keys(this.selected).length;
        },
        get selectionText() {
          return this.selectedCount + ' ' + Dash.t('js.selected');
        },
        clearSelection: function () {
          this.selected = {};
        },
        // ---------------------------------------------------- the dialog
        openDialog: function (mode, s) {
          this.mode = mode;
          this.current = s;
          this.form.failure_id = s && s.failure_id ? String(s.failure_id) : '';
          this.form.justification = (s && s.justification) || '';
          this.formError = '';
          this.modalOpen = true;
          this.$nextTick(function () {
            var el = document.getElementById('justify-reason');
            if (el) el.focus();
          });
        },
        openJustify: function (s) {
          this.openDialog('stop', s);
        },
        openRunning: function (o) {
          this.openDialog('running', o);
        },
        openBulk: function () {
          if (this.selectedCount > 0) this.openDialog('bulk', null);
        },
        openNextPending: function () {
          var next = this.visible.find(function (s) {
            return !s.failure_id;
          });
          if (next) this.openJustify(next);
        },
        closeModal: function () {
          this.modalOpen = false;
          this.current = null;
        },
        get dialogTitle() {
          if (this.mode === 'bulk') return Dash.t('js.justify_selected');
          if (this.mode === 'running') return Dash.t('js.justify_running');
          return this.current && this.current.failure_id ? Dash.t('js.edit_reason') : Dash.t('js.justify_stop');
        },
        get currentTitle() {
          var s = this.current;
          if (this.mode === 'bulk') return this.selectionText;
          if (this.mode === 'running' && s) return this.runningTitle(s);
          return s ? this.lineName(s) + ' · ' + this.when(s) + ' · ' + this.duration(s) : '';
        },
        request: function () {
          var reason = { failure_id: parseInt(this.form.failure_id, 10), comment: this.form.justification };
          var s = this.current;
          if (this.mode === 'bulk') {
            var self = this;
            reason.stops = Object.keys(this.selected).map(function (k) {
              var x = self.selected[k];
              return { line_id: x.line_id, downtime_id: x.downtime_id, expected_updated_at: x.updated_at };
            });
            return ['POST', '/api/v1/downtime/justify', reason];
          }
          if (this.mode === 'running') {
            reason.line_id = s.line_id;
            reason.since = s.since;
            return ['PUT', '/api/v1/downtime/running', reason];
          }
          reason.expected_updated_at = s.updated_at;
          var path = '/api/v1/downtime/' + encodeURIComponent(s.downtime_id) + '?line_id=' + encodeURIComponent(s.line_id);
          return ['PUT', path, reason];
        },
        save: function () {
          var self = this;
          if (!self.form.failure_id) {
            self.formError = Dash.t('js.reason_required');
            return;
          }
          var req = self.request();
          var mode = self.mode;
          self.saving = true;
          Dash.api(req[0], req[1], req[2]).then(function (res) {
            self.saving = false;
            if (!res.ok) {
              self.formError = Dash.errorMessage(res);
              return;
            }
            self.modalOpen = false;
            Dash.toast(Dash.t('js.justify_saved'), 'success');
            var data = res.data && res.data.data;
            if (mode === 'running') {
              Object.assign(self.current, data || {});
              self.running = self.running.slice();
              return;
            }
            var updated = mode === 'bulk' ? data || [] : [data || {}];
            var byKey = {};
            updated.forEach(function (u) {
              byKey[keyOf(u)] = u;
            });
            self.items = self.items.map(function (s) {
              return byKey[keyOf(s)] ? Object.assign({}, s, byKey[keyOf(s)]) : s;
            });
            self.selected = {};
            // The operator's prompt: the next stop that still needs its reason.
            if (mode === 'stop' && self.onlyUnjustified) self.$nextTick(self.openNextPending.bind(self));
          });
        },
      };
    });
  });
})();
