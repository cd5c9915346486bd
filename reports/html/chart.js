// The report's charts: glue between the page's data (the #fb-data JSON block
// written by html_writer.cpp) and dygraphs. Two charts share one time axis
// (seconds from load start): IOPS, and latency p99/max (log scale). Fault
// windows are shaded, stalls marked in red, events drawn as labelled lines.
// When both are drawn, <body> gets data-chart-ready, data-series (series
// drawn) and data-shaded (fault windows shaded in the IOPS chart).
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('fb-data').textContent);
  var body = document.body;

  function xy(g, t) { return g.toDomXCoord(t); }

  function shade(ctx, area, g, withLabels) {
    var shaded = 0;
    data.faults.forEach(function (f) {
      var l = xy(g, f.start), r = xy(g, f.end), s = xy(g, f.settle_end);
      ctx.fillStyle = 'rgba(255, 152, 0, 0.22)';
      ctx.fillRect(l, area.y, Math.max(r - l, 1), area.h);
      ctx.fillStyle = 'rgba(255, 152, 0, 0.08)';
      ctx.fillRect(r, area.y, Math.max(s - r, 0), area.h);
      if (withLabels) {
        ctx.fillStyle = '#8a4b00';
        ctx.font = 'bold 12px sans-serif';
        ctx.fillText(f.name, l + 4, area.y + 14);
      }
      shaded++;
    });
    data.stalls.forEach(function (st) {
      var l = xy(g, st.start), r = xy(g, st.end);
      ctx.fillStyle = 'rgba(211, 47, 47, 0.35)';
      ctx.fillRect(l, area.y, Math.max(r - l, 2), area.h);
    });
    ctx.save();
    ctx.strokeStyle = 'rgba(55, 71, 79, 0.7)';
    ctx.setLineDash([3, 3]);
    ctx.font = '11px sans-serif';
    ctx.fillStyle = '#37474f';
    var lastX = -1e9, level = 0;
    data.events.forEach(function (e) {
      var x = Math.round(xy(g, e.t)) + 0.5;
      if (x < area.x || x > area.x + area.w) return;
      // Labels of close events are staggered so they do not overprint.
      level = x - lastX < 13 ? (level + 1) % 3 : 0;
      lastX = x;
      ctx.beginPath();
      ctx.moveTo(x, area.y);
      ctx.lineTo(x, area.y + area.h);
      ctx.stroke();
      if (withLabels) {
        ctx.save();
        ctx.translate(x + 3, area.y + area.h - 4 - level * area.h / 3);
        ctx.rotate(-Math.PI / 2);
        ctx.fillText(e.kind + (e.source ? ' (' + e.source + ')' : ''), 0, 0);
        ctx.restore();
      }
    });
    ctx.restore();
    return shaded;
  }

  var charts = [];
  var syncing = false;
  function sync(me, initial) {
    if (initial || syncing) return;
    syncing = true;
    var range = me.xAxisRange();
    charts.forEach(function (g) {
      if (g !== me) g.updateOptions({ dateWindow: range });
    });
    syncing = false;
  }

  var iopsRows = data.t.map(function (t, i) { return [t, data.iops[i]]; });
  var latRows = data.t.map(function (t, i) { return [t, data.p99_ms[i], data.max_ms[i]]; });
  if (iopsRows.length === 0) { iopsRows = [[0, 0]]; latRows = [[0, null, null]]; }
  var common = {
    xlabel: 'seconds from load start',
    legend: 'always',
    labelsSeparateLines: false,
    connectSeparatedPoints: false,
    drawCallback: sync,
    height: 260,
    animatedZooms: false,
  };
  // Log axis from the data (dygraphs' own choice can cut the lowest values).
  var lat = data.p99_ms.concat(data.max_ms).filter(function (v) { return v !== null && v > 0; });
  var latRange = lat.length ? [lat.reduce(function (a, b) { return Math.min(a, b); }) / 1.5,
                              lat.reduce(function (a, b) { return Math.max(a, b); }) * 1.5] : null;
  var shadedCount = 0;
  var g1 = new Dygraph(document.getElementById('chart-iops'), iopsRows, Object.assign({}, common, {
    labels: ['t', 'IOPS'],
    ylabel: 'IOPS',
    colors: ['#1565c0'],
    includeZero: true,
    labelsKMB: true,
    axes: { y: { axisLabelWidth: 60 } },
    stepPlot: true,
    underlayCallback: function (ctx, area, g) { shadedCount = shade(ctx, area, g, true); },
  }));
  var g2 = new Dygraph(document.getElementById('chart-lat'), latRows, Object.assign({}, common, {
    labels: ['t', 'p99 (ms)', 'max (ms)'],
    ylabel: 'latency (ms, log)',
    axes: { y: { axisLabelWidth: 60 } },
    logscale: true,
    valueRange: latRange,
    colors: ['#2e7d32', '#c62828'],
    underlayCallback: function (ctx, area, g) { shade(ctx, area, g, false); },
  }));
  charts = [g1, g2];
  body.dataset.series = String(g1.numColumns() - 1 + g2.numColumns() - 1);
  body.dataset.shaded = String(shadedCount);
  body.dataset.chartReady = '1';
})();
