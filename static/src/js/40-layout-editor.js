// Layout editor (/admin/config#layout): add, move, resize, configure and remove
// widgets on the 12-column grid, then POST /api/v1/dashboard/layout. The server
// validates again (schema, grid, overlaps) and its message is shown as is.
(function () {
  'use strict';
  var Dash = window.Dash;
  var COLS = 12;
  var MAX_H = 12;
  var ICONS = { kpi: 'speed', line: 'show_chart', bar: 'bar_chart', pie: 'pie_chart', waterfall: 'waterfall_chart', table: 'table', heatmap: 'grid_on', status: 'sensors' };

  function clone(v) {
    return JSON.parse(JSON.stringify(v));
  }
  function overlaps(a, b) {
    return !(a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y);
  }

  document.addEventListener('alpine:init', function () {
    window.Alpine.data('layoutEditor', function () {
      return {
        cfg: {},
        role: '',
        widgets: [],
        original: '[]',
        selected: -1,
        addType: '',
        error: '',
        saving: false,
        seq: 0,
        init: function () {
          this.cfg = Dash.readJson(document.getElementById('layout-config')) || {};
          this.role = this.cfg.role || '';
          this.setLayout(this.cfg.layout || { widgets: [] });
        },
        setLayout: function (layout) {
          var self = this;
          self.widgets = (layout.widgets || []).map(function (w) {
            self.seq += 1;
            return { key: self.seq, widget_type: w.widget_type, x: w.x, y: w.y, w: w.w, h: w.h, params: w.params || {}, title: w.title || '' };
          });
          self.original = JSON.stringify(self.payload().widgets);
          self.selected = -1;
          self.error = '';
        },
        payload: function () {
          return {
            columns: COLS,
            widgets: this.widgets.map(function (w) {
              return { widget_type: w.widget_type, x: w.x, y: w.y, w: w.w, h: w.h, params: w.params, title: w.title ? w.title : null };
            }),
          };
        },
        get dirty() {
          return JSON.stringify(this.payload().widgets) !== this.original;
        },
        type: function (w) {
          var list = this.cfg.catalog || [];
          for (var i = 0; i < list.length; i++) if (list[i].widget_type === w.widget_type) return list[i];
          return null;
        },
        typeName: function (w) {
          var t = this.type(w);
          return t ? t.name : w.widget_type;
        },
        typeIcon: function (w) {
          var t = this.type(w);
          return (t && ICONS[t.chart_kind]) || 'widgets';
        },
        sizeText: function (w) {
          return w.w + '×' + w.h;
        },
        boxClass: function (w, i) {
          var base = 'flex items-center gap-1.5 overflow-hidden rounded-md border px-2 text-xs font-medium shadow-sm transition-colors ';
          var pos = 'col-start-' + (w.x + 1) + ' col-span-' + w.w + ' row-span-' + w.h + (w.y < 48 ? ' row-start-' + (w.y + 1) : '');
          var look = i === this.selected ? 'border-primary bg-primary text-white ring-2 ring-primary/40' : 'border-slate-300 bg-white hover:border-primary dark:border-slate-600 dark:bg-surface-dark';
          return base + pos + ' ' + look;
        },
        isSelected: function (i) {
          return i === this.selected ? 'true' : 'false';
        },
        select: function (i) {
          this.selected = i;
        },
        get hasSelection() {
          return this.selected >= 0 && this.selected < this.widgets.length;
        },
        get sel() {
          return this.hasSelection ? this.widgets[this.selected] : { w: 0, h: 0, title: '', params: {} };
        },
        get selectedName() {
          return this.hasSelection ? this.typeName(this.sel) : '';
        },
        fits: function (cand, skip) {
          if (cand.x < 0 || cand.y < 0 || cand.w < 1 || cand.h < 1 || cand.h > MAX_H || cand.x + cand.w > COLS) return false;
          for (var i = 0; i < this.widgets.length; i++) {
            if (i !== skip && overlaps(cand, this.widgets[i])) return false;
          }
          return true;
        },
        move: function (dx, dy) {
          if (!this.hasSelection) return;
          var w = this.sel;
          var cand = { x: w.x + dx, y: w.y + dy, w: w.w, h: w.h };
          if (this.fits(cand, this.selected)) {
            w.x = cand.x;
            w.y = cand.y;
          } else {
            Dash.toast(Dash.t('js.layout_blocked'), 'warning', 2500);
          }
        },
        resize: function (dw, dh) {
          if (!this.hasSelection) return;
          var w = this.sel;
          var cand = { x: w.x, y: w.y, w: w.w + dw, h: w.h + dh };
          if (this.fits(cand, this.selected)) {
            w.w = cand.w;
            w.h = cand.h;
          } else {
            Dash.toast(Dash.t('js.layout_blocked'), 'warning', 2500);
          }
        },
        add: function () {
          var t = null;
          var list = this.cfg.catalog || [];
          for (var i = 0; i < list.length; i++) if (list[i].widget_type === this.addType) t = list[i];
          if (!t) return;
          var w = Math.min(t.default_w || 4, COLS);
          var h = Math.min(t.default_h || 3, MAX_H);
          // First free slot, scanning rows top to bottom.
          for (var y = 0; y < 480; y++) {
            for (var x = 0; x + w <= COLS; x++) {
              var cand = { x: x, y: y, w: w, h: h };
              if (this.fits(cand, -1)) {
                this.seq += 1;
                var params = {};
                if (t.requires_line && this.cfg.lines && this.cfg.lines.length) params.line_id = this.cfg.lines[0].line_id;
                this.widgets.push({ key: this.seq, widget_type: t.widget_type, x: x, y: y, w: w, h: h, params: params, title: '' });
                this.selected = this.widgets.length - 1;
                this.addType = '';
                return;
              }
            }
          }
        },
        remove: function () {
          if (!this.hasSelection) return;
          this.widgets.splice(this.selected, 1);
          this.selected = -1;
        },
        setTitle: function (ev) {
          if (this.hasSelection) this.sel.title = ev.target.value;
        },
        accepts: function (param) {
          if (!this.hasSelection) return false;
          var t = this.type(this.sel);
          return !!(t && t.params && t.params.indexOf(param) >= 0);
        },
        paramValue: function (name) {
          var v = this.sel.params ? this.sel.params[name] : undefined;
          return v === undefined || v === null ? '' : String(v);
        },
        setParam: function (name, value) {
          if (!this.hasSelection) return;
          var p = clone(this.sel.params || {});
          if (value === '' || value === null || value === undefined) {
            delete p[name];
          } else if (name === 'line_id') {
            p.line_id = parseInt(value, 10);
            delete p.line_ids;
          } else if (name === 'show_table') {
            p.show_table = value === 'true';
          } else {
            p[name] = value;
            if (name === 'range') {
              delete p.start_date;
              delete p.end_date;
            }
          }
          this.sel.params = p;
        },
        get paramsText() {
          return JSON.stringify(this.sel.params || {}, null, 2);
        },
        setParamsText: function (ev) {
          try {
            var v = JSON.parse(ev.target.value || '{}');
            if (v && typeof v === 'object' && !Array.isArray(v)) {
              this.sel.params = v;
              this.error = '';
              return;
            }
          } catch (e) {
            /* below */
          }
          this.error = Dash.t('js.invalid_json');
        },
        revert: function () {
          var self = this;
          self.setLayout({ widgets: JSON.parse(self.original) });
        },
        loadRole: function () {
          var self = this;
          Dash.api('GET', '/api/v1/dashboard/layout?role=' + encodeURIComponent(self.role)).then(function (res) {
            if (!res.ok) {
              self.error = Dash.errorMessage(res);
              return;
            }
            var d = (res.data && res.data.data) || {};
            self.setLayout(d.layout || { widgets: [] });
          });
        },
        save: function () {
          var self = this;
          self.saving = true;
          self.error = '';
          var body = { layout: self.payload() };
          if (self.role) body.role = self.role;
          Dash.api('POST', '/api/v1/dashboard/layout', body).then(function (res) {
            self.saving = false;
            if (!res.ok) {
              self.error = Dash.errorMessage(res);
              var f = res.data && res.data.error && res.data.error.field;
              var m = f && /\/widgets\/(\d+)/.exec(f);
              if (m) self.selected = parseInt(m[1], 10);
              return;
            }
            self.original = JSON.stringify(self.payload().widgets);
            Dash.toast(Dash.t('js.layout_saved'), 'success');
          });
        },
      };
    });
  });
})();
