// Alpine.js components (CSP build: registered here with Alpine.data, markup
// only names them and calls their methods — no code in attributes).
(function () {
  'use strict';
  var Dash = window.Dash;

  function fieldErrors(res) {
    var e = res && res.data && res.data.error;
    var out = {};
    if (e && e.field) out[e.field] = e.message;
    return out;
  }

  // The answer to an admin list's form: its error (and the field's, where
  // the form shows them), or the modal closed, a toast and the list reloaded.
  function afterSave(self, res) {
    self.saving = false;
    if (!res.ok) {
      if (self.errors) self.errors = fieldErrors(res);
      self.formError = Dash.errorMessage(res);
      return;
    }
    self.modalOpen = false;
    Dash.toast(Dash.t('js.saved'), 'success');
    self.load();
  }

  // Loads a list route into an admin list: `loading` while it runs, then its
  // `items`, or the `error` message it answered.
  function loadList(self, path) {
    self.loading = true;
    Dash.api('GET', path).then(function (res) {
      self.loading = false;
      if (!res.ok) {
        self.error = Dash.errorMessage(res);
        return;
      }
      self.items = (res.data && res.data.data) || [];
    });
  }

  document.addEventListener('alpine:init', function () {
    var Alpine = window.Alpine;

    // ------------------------------------------------------------ page shell
    Alpine.data('shell', function () {
      return {
        collapsed: false,
        mobileOpen: false,
        init: function () {
          try {
            this.collapsed = localStorage.getItem('sidebar') === 'collapsed';
          } catch (e) {
            this.collapsed = false;
          }
        },
        toggleSidebar: function () {
          this.collapsed = !this.collapsed;
          try {
            localStorage.setItem('sidebar', this.collapsed ? 'collapsed' : 'open');
          } catch (e) {
            /* ignore */
          }
        },
        openMobile: function () {
          this.mobileOpen = true;
        },
        closeMobile: function () {
          this.mobileOpen = false;
        },
        get sidebarClass() {
          return (this.collapsed ? 'lg:w-20 sidebar-collapsed' : 'lg:w-64') + (this.mobileOpen ? ' translate-x-0' : ' -translate-x-full lg:translate-x-0');
        },
        get mainClass() {
          return this.collapsed ? 'lg:pl-20' : 'lg:pl-64';
        },
        get collapseIcon() {
          return this.collapsed ? 'left_panel_open' : 'left_panel_close';
        },
      };
    });

    Alpine.data('dropdown', function () {
      return {
        open: false,
        toggle: function () {
          this.open = !this.open;
        },
        close: function () {
          this.open = false;
        },
      };
    });

    // ------------------------------------------------------------ login
    Alpine.data('loginForm', function () {
      return {
        username: '',
        password: '',
        error: '',
        busy: false,
        showPassword: false,
        get passwordType() {
          return this.showPassword ? 'text' : 'password';
        },
        get passwordIcon() {
          return this.showPassword ? 'visibility_off' : 'visibility';
        },
        togglePassword: function () {
          this.showPassword = !this.showPassword;
        },
        submit: function () {
          var self = this;
          if (self.busy) return;
          self.error = '';
          if (!self.username || !self.password) {
            self.error = Dash.t('js.login_missing');
            return;
          }
          self.busy = true;
          Dash.api('POST', '/api/v1/auth/login', { username: self.username, password: self.password }, true)
            .then(function (res) {
              if (res.ok) {
                location.assign(Dash.safeNext(new URLSearchParams(location.search).get('next')));
                return;
              }
              self.busy = false;
              self.password = '';
              self.error = res.status === 401 ? Dash.t('js.login_invalid') : Dash.errorMessage(res);
            })
            .catch(function () {
              self.busy = false;
              self.error = Dash.t('js.network_error');
            });
        },
      };
    });

    // ------------------------------------------------------------ dashboard filters
    // A change asks the board for every widget in one request (25-board.js);
    // the URL keeps the state, so a reload shows the same filters.
    Alpine.data('filters', function () {
      return {
        range: '',
        init: function () {
          var sel = this.$el.querySelector('[name="f_range"]');
          this.range = sel ? sel.value : '';
        },
        get custom() {
          return this.range === 'custom';
        },
        changed: function () {
          var sel = this.$el.querySelector('[name="f_range"]');
          this.range = sel ? sel.value : '';
          var params = new URLSearchParams(new FormData(this.$el));
          var clean = new URLSearchParams();
          params.forEach(function (v, k) {
            if (v !== '') clean.append(k, v);
          });
          var q = clean.toString();
          history.replaceState(null, '', location.pathname + (q ? '?' + q : ''));
        },
        reset: function () {
          this.$el.reset();
          this.changed();
          this.$el.dispatchEvent(new Event('change', { bubbles: true }));
        },
      };
    });

    // ------------------------------------------------------------ reports
    Alpine.data('report', function () {
      return {
        loading: false,
        error: '',
        result: null,
        summary: null,
        lineName: '',
        init: function () {
          this.run();
        },
        params: function () {
          var form = document.getElementById('report-form');
          var fd = new FormData(form);
          var date = fd.get('date');
          var kind = fd.get('kind') || 'shift';
          var line = fd.get('line_id');
          var start = date;
          var d = new Date(date + 'T00:00:00Z');
          d.setUTCDate(d.getUTCDate() + 1);
          var end = d.toISOString().slice(0, 10);
          var p = new URLSearchParams({ start_date: start, end_date: end, interval: kind === 'day' ? 'hour' : 'shift' });
          if (line) p.set('line_id', line);
          var sel = form.querySelector('[name="line_id"]');
          this.lineName = sel && sel.selectedOptions[0] ? sel.selectedOptions[0].textContent : '';
          return p;
        },
        run: function () {
          var self = this;
          var p = self.params();
          self.loading = true;
          self.error = '';
          history.replaceState(null, '', location.pathname + '?' + new URLSearchParams(new FormData(document.getElementById('report-form'))).toString());
          var sp = new URLSearchParams(p);
          sp.delete('interval');
          Promise.all([Dash.api('GET', '/api/v1/metrics/oee?' + p.toString()), Dash.api('GET', '/api/v1/downtime/summary?' + sp.toString())]).then(function (all) {
            self.loading = false;
            if (!all[0].ok) {
              self.error = Dash.errorMessage(all[0]);
              self.result = null;
              return;
            }
            self.result = (all[0].data && all[0].data.data) || all[0].data;
            self.summary = all[1].ok ? (all[1].data && all[1].data.data) || all[1].data : null;
          });
        },
        get rows() {
          return (this.result && this.result.buckets) || [];
        },
        get reasons() {
          return (this.summary && this.summary.by_reason) || [];
        },
        get hasResult() {
          return !!this.result;
        },
        pct: function (v) {
          return Dash.fmtPct(v);
        },
        num: function (v) {
          return Dash.fmtNumber(v);
        },
        dur: function (v) {
          return Dash.fmtDuration(v);
        },
        get total() {
          return this.result || {};
        },
        csv: function () {
          var r = this.result;
          if (!r) return;
          var head = ['period', 'start', 'end', 'planned_seconds', 'downtime_seconds', 'run_seconds', 'good', 'rejects', 'availability', 'performance', 'quality', 'oee'];
          var lines = [head.join(',')];
          var cell = function (v) {
            if (v === null || v === undefined) return '';
            var s = String(v);
            // Spreadsheet formula injection and quoting.
            if (/^[=+\-@\t\r]/.test(s) && isNaN(Number(s))) s = "'" + s;
            return /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
          };
          (r.buckets || []).concat([Object.assign({ label: 'TOTAL' }, r)]).forEach(function (b) {
            lines.push([b.label || '', b.start, b.end, b.planned_seconds, b.downtime_seconds, b.run_seconds, b.good, b.rejects, b.availability, b.performance, b.quality, b.oee].map(cell).join(','));
          });
          var blob = new Blob(['\ufeff' + lines.join('\r\n') + '\r\n'], { type: 'text/csv;charset=utf-8' });
          var a = document.createElement('a');
          a.href = URL.createObjectURL(blob);
          var f = new FormData(document.getElementById('report-form'));
          a.download = 'report-' + (f.get('kind') || 'shift') + '-' + (f.get('date') || '') + '.csv';
          document.body.appendChild(a);
          a.click();
          setTimeout(function () {
            URL.revokeObjectURL(a.href);
            a.remove();
          }, 1000);
        },
        print: function () {
          window.print();
        },
      };
    });

    // ------------------------------------------------------------ profile: password
    Alpine.data('passwordForm', function () {
      return {
        current: '',
        next: '',
        confirm: '',
        error: '',
        busy: false,
        submit: function () {
          var self = this;
          self.error = '';
          if (self.next !== self.confirm) {
            self.error = Dash.t('js.password_mismatch');
            return;
          }
          self.busy = true;
          Dash.api('POST', '/api/v1/auth/change-password', { current_password: self.current, new_password: self.next }).then(function (res) {
            self.busy = false;
            if (!res.ok) {
              self.error = Dash.errorMessage(res);
              return;
            }
            self.current = self.next = self.confirm = '';
            Dash.toast(Dash.t('js.password_changed'), 'success');
          });
        },
      };
    });

    // ------------------------------------------------------------ admin: users
    Alpine.data('usersAdmin', function () {
      return {
        items: [],
        loading: true,
        error: '',
        q: '',
        modalOpen: false,
        editing: null,
        form: {},
        formError: '',
        errors: {},
        saving: false,
        roles: [],
        tenantId: null,
        init: function () {
          var cfg = Dash.readJson(document.getElementById('users-config')) || {};
          this.roles = cfg.roles || [];
          this.tenantId = cfg.tenant_id || null;
          this.load();
        },
        load: function () {
          var p = new URLSearchParams({ limit: '200' });
          if (this.q) p.set('q', this.q);
          loadList(this, '/api/v1/users?' + p.toString());
        },
        get empty() {
          return !this.loading && !this.error && this.items.length === 0;
        },
        openCreate: function () {
          this.editing = null;
          this.form = { username: '', email: '', role: 'viewer', password: '', is_active: true };
          this.formError = '';
          this.errors = {};
          this.modalOpen = true;
        },
        openEdit: function (u) {
          this.editing = u;
          this.form = { username: u.username, email: u.email || '', role: u.role, password: '', is_active: !!u.is_active };
          this.formError = '';
          this.errors = {};
          this.modalOpen = true;
        },
        closeModal: function () {
          this.modalOpen = false;
        },
        get modalTitle() {
          return this.editing ? Dash.t('js.edit_user') : Dash.t('js.new_user');
        },
        get isNew() {
          return !this.editing;
        },
        roleLabel: function (u) {
          return Dash.t('role.' + u.role);
        },
        activeClass: function (u) {
          return u.is_active ? 'badge-success' : 'badge-neutral';
        },
        activeText: function (u) {
          return u.is_active ? Dash.t('js.active') : Dash.t('js.inactive');
        },
        lastLogin: function (u) {
          return u.last_login_at ? Dash.fmtDateTime(u.last_login_at) : '—';
        },
        save: function () {
          var self = this;
          self.saving = true;
          self.formError = '';
          self.errors = {};
          var body = { email: self.form.email || null, role: self.form.role, is_active: !!self.form.is_active };
          var req;
          if (self.editing) {
            if (self.form.password) body.password = self.form.password;
            req = Dash.api('PUT', '/api/v1/users/' + self.editing.user_id, body);
          } else {
            body.username = self.form.username;
            body.password = self.form.password;
            req = Dash.api('POST', '/api/v1/users', body);
          }
          req.then(function (res) {
            afterSave(self, res);
          });
        },
        remove: function (u) {
          var self = this;
          if (!window.confirm(Dash.t('js.confirm_delete_user') + ' ' + u.username)) return;
          Dash.api('DELETE', '/api/v1/users/' + u.user_id).then(function (res) {
            if (!res.ok) {
              Dash.toast(Dash.errorMessage(res), 'error');
              return;
            }
            Dash.toast(Dash.t('js.deleted'), 'success');
            self.load();
          });
        },
      };
    });

    // ------------------------------------------------------------ admin: tenants (superadmin)
    Alpine.data('tenantsAdmin', function () {
      return {
        items: [],
        loading: true,
        error: '',
        modalOpen: false,
        form: {},
        formError: '',
        saving: false,
        init: function () {
          this.load();
        },
        load: function () {
          loadList(this, '/api/v1/tenants?limit=200');
        },
        get empty() {
          return !this.loading && !this.error && this.items.length === 0;
        },
        openCreate: function () {
          this.form = { company_name: '', timezone: 'Europe/Madrid', language: 'es', db_name: '' };
          this.formError = '';
          this.modalOpen = true;
        },
        closeModal: function () {
          this.modalOpen = false;
        },
        statusClass: function (t) {
          return t.is_active ? 'badge-success' : 'badge-neutral';
        },
        statusText: function (t) {
          return t.is_active ? Dash.t('js.active') : Dash.t('js.inactive');
        },
        toggleText: function (t) {
          return t.is_active ? Dash.t('js.deactivate') : Dash.t('js.activate');
        },
        tz: function (t) {
          return (t.config_tenant && t.config_tenant.timezone) || (t.config && t.config.timezone) || t.timezone || '—';
        },
        since: function (t) {
          return t.asociated_since ? String(t.asociated_since).slice(0, 10) : '—';
        },
        save: function () {
          var self = this;
          self.saving = true;
          var body = { company_name: self.form.company_name, config: { timezone: self.form.timezone, language: self.form.language } };
          if (self.form.db_name) body.config.db_name = self.form.db_name;
          Dash.api('POST', '/api/v1/tenants', body).then(function (res) {
            afterSave(self, res);
          });
        },
        toggle: function (t) {
          var self = this;
          var action = t.is_active ? 'deactivate' : 'activate';
          if (t.is_active && !window.confirm(Dash.t('js.confirm_deactivate') + ' ' + t.company_name)) return;
          Dash.api('POST', '/api/v1/tenants/' + t.tenant_id + '/' + action).then(function (res) {
            if (!res.ok) {
              Dash.toast(Dash.errorMessage(res), 'error');
              return;
            }
            self.load();
          });
        },
      };
    });
  });

  // ------------------------------------------------------------ shared formatting
  Dash.fmtDateTime = function (iso) {
    if (!iso) return '—';
    if (/Z$/.test(iso)) {
      // UTC instants (sign-in times): the browser's clock, which is the plant's.
      var d = new Date(iso);
      if (!isNaN(d)) {
        var p2 = function (n) { return (n < 10 ? '0' : '') + n; };
        return p2(d.getDate()) + '/' + p2(d.getMonth() + 1) + ' ' + p2(d.getHours()) + ':' + p2(d.getMinutes());
      }
    }
    // Times carry the plant's offset: show the plant-local wall clock as written.
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(iso);
    if (!m) return iso;
    return m[3] + '/' + m[2] + ' ' + m[4] + ':' + m[5];
  };
  Dash.fmtDuration = function (sec) {
    if (sec === null || sec === undefined || isNaN(sec)) return '—';
    sec = Math.round(Number(sec));
    var h = Math.floor(sec / 3600);
    var m = Math.floor((sec % 3600) / 60);
    var s = sec % 60;
    if (h > 0) return h + ' h ' + (m < 10 ? '0' : '') + m + ' min';
    if (m > 0) return m + ' min ' + (s < 10 ? '0' : '') + s + ' s';
    return s + ' s';
  };
})();
