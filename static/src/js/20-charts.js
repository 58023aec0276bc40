// Charts: every <div data-chart> holds a <canvas> and a JSON data island
// (<script type="application/json" data-chart-spec>) written by the server.
// The spec is plain data — labels, series, axis formats — so no code travels
// with it. Charts are (re)drawn when a page loads, when htmx swaps a widget in,
// and when the theme changes; the table alternative sits next to each chart.
(function () {
  'use strict';
  var Dash = window.Dash;

  var PALETTE = {
    primary: '#2b7cee',
    success: '#10b981',
    warning: '#f59e0b',
    error: '#ef4444',
    info: '#3b82f6',
    muted: '#94a3b8',
    c0: '#2b7cee',
    c1: '#10b981',
    c2: '#f59e0b',
    c3: '#a855f7',
    c4: '#06b6d4',
    c5: '#ef4444',
    c6: '#84cc16',
    c7: '#ec4899',
    c8: '#64748b',
  };
  function color(name) {
    return PALETTE[name] || name || PALETTE.primary;
  }
  function alpha(hex, a) {
    var n = parseInt(hex.slice(1), 16);
    return 'rgba(' + ((n >> 16) & 255) + ',' + ((n >> 8) & 255) + ',' + (n & 255) + ',' + a + ')';
  }

  function formatter(fmt) {
    return function (v) {
      if (v === null || v === undefined) return '—';
      if (Array.isArray(v)) v = v[1] - v[0];
      switch (fmt) {
        case 'pct':
          return Dash.fmtNumber(v * 100, 0) + ' %';
        case 'pct1':
          return Dash.fmtNumber(v * 100, 1) + ' %';
        case 'min':
          return Dash.fmtNumber(v / 60, 0) + ' min';
        case 'hours':
          return Dash.fmtNumber(v / 3600, 1) + ' h';
        case 'dec':
          return Dash.fmtNumber(v, 1);
        default:
          return Dash.fmtNumber(v, 0);
      }
    };
  }

  function theme() {
    var dark = Dash.isDark();
    return {
      text: dark ? '#cbd5e1' : '#475569',
      grid: dark ? 'rgba(148,163,184,0.14)' : 'rgba(100,116,139,0.16)',
      tooltipBg: dark ? '#0f172a' : '#1e293b',
    };
  }

  function axis(spec, t, horizontal) {
    spec = spec || {};
    var a = {
      beginAtZero: spec.min === undefined || spec.min === 0,
      stacked: !!spec.stacked,
      grid: { color: t.grid, drawTicks: false },
      border: { display: false },
      ticks: { color: t.text, padding: 6, callback: formatter(spec.format), maxTicksLimit: 6 },
    };
    if (spec.min !== undefined && spec.min !== null) a.min = spec.min;
    if (spec.max !== undefined && spec.max !== null) a.max = spec.max;
    if (spec.position) a.position = spec.position;
    if (horizontal) a.grid.display = true;
    return a;
  }

  function build(spec) {
    var t = theme();
    var kind = spec.kind || 'bar';
    var horizontal = !!spec.horizontal;
    var isPie = kind === 'doughnut' || kind === 'pie';
    var datasets = (spec.series || []).map(function (s, i) {
      var c = color(s.color || 'c' + (i % 9));
      var type = s.type || (kind === 'waterfall' ? 'bar' : kind);
      var ds = {
        label: s.label,
        data: s.data,
        type: isPie ? undefined : type,
        yAxisID: horizontal ? undefined : s.axis === 'y2' ? 'y2' : 'y',
        xAxisID: horizontal ? (s.axis === 'y2' ? 'x2' : 'x') : undefined,
        order: type === 'line' ? 0 : 1,
      };
      if (isPie) {
        ds.backgroundColor = (s.colors || []).map(color);
        ds.borderColor = Dash.isDark() ? '#1e293b' : '#ffffff';
        ds.borderWidth = 2;
      } else if (type === 'line') {
        ds.borderColor = c;
        ds.backgroundColor = alpha(c, 0.15);
        ds.fill = !!s.fill;
        ds.tension = 0.3;
        ds.pointRadius = (s.data || []).length > 40 ? 0 : 2.5;
        ds.pointHoverRadius = 4;
        ds.borderWidth = 2;
        ds.spanGaps = true;
        if (s.dashed) ds.borderDash = [5, 4];
        ds.clip = false;
      } else {
        ds.backgroundColor = s.colors ? s.colors.map(function (x) { return alpha(color(x), 0.85); }) : alpha(c, 0.85);
        ds.hoverBackgroundColor = s.colors ? s.colors.map(color) : c;
        ds.borderRadius = 4;
        ds.maxBarThickness = 48;
        ds.borderSkipped = false;
      }
      return ds;
    });

    var fmtY = formatter((spec.y || {}).format);
    var fmtY2 = formatter((spec.y2 || {}).format);
    var options = {
      responsive: true,
      maintainAspectRatio: false,
      animation: { duration: 250 },
      indexAxis: horizontal ? 'y' : 'x',
      interaction: { mode: isPie ? 'nearest' : 'index', intersect: false },
      plugins: {
        legend: {
          display: isPie || datasets.length > 1,
          position: isPie ? 'right' : 'bottom',
          labels: { color: t.text, boxWidth: 10, boxHeight: 10, usePointStyle: true, padding: 12 },
        },
        tooltip: {
          backgroundColor: t.tooltipBg,
          padding: 10,
          callbacks: {
            label: function (ctx) {
              var ds = ctx.dataset;
              var raw = ctx.raw;
              var f = ds.yAxisID === 'y2' || ds.xAxisID === 'x2' ? fmtY2 : fmtY;
              if (isPie) {
                var total = ctx.dataset.data.reduce(function (a, b) { return a + b; }, 0) || 1;
                return ctx.label + ': ' + f(raw) + ' (' + Dash.fmtNumber((raw / total) * 100, 1) + ' %)';
              }
              return (ds.label ? ds.label + ': ' : '') + f(raw);
            },
          },
        },
      },
    };
    if (!isPie) {
      var valueAxis = axis(spec.y, t, horizontal);
      var catAxis = {
        stacked: !!(spec.y || {}).stacked,
        grid: { display: false },
        border: { display: false },
        ticks: {
          color: t.text,
          maxRotation: 40,
          autoSkip: true,
          autoSkipPadding: 12,
          callback: function (value) {
            var l = String(this.getLabelForValue(value));
            return l.length > 18 ? l.slice(0, 17) + '…' : l;
          },
        },
      };
      if (horizontal) {
        options.scales = { x: valueAxis, y: catAxis };
        if (spec.y2) options.scales.x2 = Object.assign(axis(spec.y2, t, true), { position: 'top', grid: { display: false } });
      } else {
        options.scales = { x: catAxis, y: valueAxis };
        if (spec.y2) options.scales.y2 = Object.assign(axis(spec.y2, t), { position: 'right', grid: { display: false } });
      }
    } else {
      options.cutout = kind === 'doughnut' ? '62%' : 0;
    }
    // A target line is one more dataset (no plugin needed).
    if (spec.target && typeof spec.target.value === 'number' && !isPie) {
      datasets.push({
        label: spec.target.label,
        data: (spec.labels || []).map(function () { return spec.target.value; }),
        type: 'line',
        yAxisID: 'y',
        borderColor: alpha(PALETTE.success, 0.9),
        borderDash: [6, 4],
        borderWidth: 1.5,
        pointRadius: 0,
        fill: false,
        order: -1,
      });
      options.plugins.legend.display = true;
    }
    return { type: isPie ? kind : 'bar', data: { labels: spec.labels || [], datasets: datasets }, options: options };
  }

  function draw(box) {
    var Chart = window.Chart;
    if (!Chart) return;
    var canvas = box.querySelector('canvas');
    var spec = Dash.readJson(box.querySelector('script[data-chart-spec]'));
    if (!canvas || !spec) return;
    var old = Chart.getChart(canvas);
    if (old) old.destroy();
    try {
      new Chart(canvas, build(spec));
    } catch (e) {
      box.setAttribute('data-chart-error', String(e && e.message));
    }
  }

  Dash.drawCharts = function (root) {
    (root || document).querySelectorAll('[data-chart]').forEach(draw);
  };

  document.addEventListener('DOMContentLoaded', function () {
    if (window.Chart) {
      window.Chart.defaults.font.family = 'Inter, system-ui, sans-serif';
      window.Chart.defaults.font.size = 12;
    }
    Dash.drawCharts(document);
  });
  document.addEventListener('htmx:beforeSwap', function (ev) {
    var target = ev.detail && ev.detail.target;
    if (!target || !window.Chart || !ev.detail.shouldSwap) return;
    target.querySelectorAll('canvas').forEach(function (c) {
      var ch = window.Chart.getChart(c);
      if (ch) ch.destroy();
    });
  });
  document.addEventListener('htmx:afterSettle', function (ev) {
    var target = ev.detail && ev.detail.target;
    if (target) Dash.drawCharts(target);
  });
  document.addEventListener('dash:theme', function () {
    Dash.drawCharts(document);
  });
})();
