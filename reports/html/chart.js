// The report's charts: glue between the page's data (the #fb-data JSON block
// written by html_writer.cpp) and dygraphs. Two charts share one time axis
// (seconds from load start): IOPS, and latency p50/p99/max (log scale). Fault
// windows are shaded, stalls marked in red, events drawn as lines. Event
// labels live in the timeline strip under the charts (#timeline): one lane per
// source, and in a lane a label that would touch the one before it joins it
// as a cluster ("kind +2", the list in its tooltip) that zooms in on a click,
// so no two labels ever overlap. Zooming (drag; double-click resets) lays the
// lanes out again and keeps the event list (#event-list) to what is in view.
// When drawn, <body> gets data-chart-ready, data-series (series drawn),
// data-shaded (fault windows shaded in the IOPS chart) and data-labels (labels
// in the timeline) and data-ready-ms (when, from the page's navigation start:
// bench/report_scale.sh); each label carries data-box="left,top,right,bottom" (its
// page box) for tests.
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
    data.events.forEach(function (e) {
      var x = Math.round(xy(g, e.t)) + 0.5;
      if (x < area.x || x > area.x + area.w) return;
      ctx.beginPath();
      ctx.moveTo(x, area.y);
      ctx.lineTo(x, area.y + area.h);
      ctx.stroke();
    });
    ctx.restore();
    return shaded;
  }

  // The timeline strip: lanes of labels placed on the IOPS chart's x axis.
  var timeline = document.getElementById('timeline');
  var sources = [];
  data.events.forEach(function (e) {
    if (sources.indexOf(e.source) < 0) sources.push(e.source);
  });
  var LANE = 20, GAP = 6;
  function label(e) { return (e.kind === 'phase' || e.kind === 'mark') && e.message ? e.message : e.kind; }
  function layoutTimeline(g) {
    if (!timeline) return;
    var area = g.getArea(), range = g.xAxisRange();
    timeline.textContent = '';
    timeline.style.height = (sources.length * LANE + 2) + 'px';
    var placed = 0;
    sources.forEach(function (src, lane) {
      var row = document.createElement('div');
      row.className = 'lane';
      row.style.top = (lane * LANE) + 'px';
      row.style.left = area.x + 'px';
      row.style.width = area.w + 'px';
      timeline.appendChild(row);
      var name = document.createElement('div');
      name.className = 'lane-name';
      name.style.top = (lane * LANE) + 'px';
      name.style.width = (area.x - 4) + 'px';
      name.textContent = src || '(run)';
      name.title = src;
      timeline.appendChild(name);
      var last = null;
      data.events.forEach(function (e) {
        if (e.source !== src || e.t < range[0] || e.t > range[1]) return;
        var x = g.toDomXCoord(e.t) - area.x;
        if (last && x < last.right + GAP) {
          // Too close to the one before: one cluster.
          last.members.push(e);
          last.el.textContent = label(last.members[0]) + ' +' + (last.members.length - 1);
          last.el.className = 'ev-label cluster';
          last.el.title = last.members.map(function (m) {
            return '+' + m.t.toFixed(3) + ' s ' + m.kind + ': ' + m.message;
          }).join('\n') + '\n(click to zoom in)';
          last.right = last.x + last.el.offsetWidth;
          return;
        }
        var el = document.createElement('span');
        el.className = 'ev-label';
        el.style.left = x + 'px';
        el.textContent = label(e);
        el.title = '+' + e.t.toFixed(3) + ' s ' + e.kind + ' (' + e.source + '): ' + e.message;
        row.appendChild(el);
        last = { el: el, x: x, right: x + el.offsetWidth, members: [e] };
        var mine = last;
        el.addEventListener('click', function () {
          if (mine.members.length < 2) return;
          var t0 = mine.members[0].t, t1 = mine.members[mine.members.length - 1].t;
          var pad = Math.max((t1 - t0) * 0.6, 0.05);
          charts[0].updateOptions({ dateWindow: [t0 - pad, t1 + pad] });
        });
        placed++;
      });
    });
    Array.prototype.forEach.call(timeline.querySelectorAll('.ev-label'), function (el) {
      var b = el.getBoundingClientRect();
      el.dataset.box = [b.left + window.scrollX, b.top + window.scrollY, b.right + window.scrollX,
                        b.bottom + window.scrollY].map(function (v) { return v.toFixed(1); }).join(',');
    });
    body.dataset.labels = String(placed);
  }

  // The event list keeps to the zoomed range.
  function filterList(range) {
    var rows = document.querySelectorAll('#event-list tbody tr');
    var shown = 0;
    Array.prototype.forEach.call(rows, function (tr) {
      var t = parseFloat(tr.dataset.t);
      var inView = t >= range[0] && t <= range[1];
      tr.style.display = inView ? '' : 'none';
      if (inView) shown++;
    });
    var note = document.getElementById('event-list-note');
    if (note) note.textContent = shown + ' of ' + rows.length + ' events in view (+' + range[0].toFixed(3) +
                                 ' s .. +' + range[1].toFixed(3) + ' s)';
  }

  var charts = [];
  var syncing = false;
  function sync(me, initial) {
    if (me === charts[0]) {
      layoutTimeline(me);
      filterList(me.xAxisRange());
    }
    if (initial || syncing) return;
    syncing = true;
    var range = me.xAxisRange();
    charts.forEach(function (g) {
      if (g !== me) g.updateOptions({ dateWindow: range });
    });
    syncing = false;
  }

  var iopsRows = data.t.map(function (t, i) { return [t, data.iops[i]]; });
  var latRows = data.t.map(function (t, i) { return [t, data.p50_ms[i], data.p99_ms[i], data.max_ms[i]]; });
  if (iopsRows.length === 0) { iopsRows = [[0, 0]]; latRows = [[0, null, null, null]]; }
  // The axis spans the whole run and every event (a final read-back ends after
  // the load), so every event is in view until a zoom.
  var tMin = 0, tMax = data.end;
  data.events.forEach(function (e) { tMin = Math.min(tMin, e.t); tMax = Math.max(tMax, e.t); });
  if (iopsRows[0][0] > tMin) { iopsRows.unshift([tMin, null]); latRows.unshift([tMin, null, null, null]); }
  if (tMax > iopsRows[iopsRows.length - 1][0]) {
    iopsRows.push([tMax, null]);
    latRows.push([tMax, null, null, null]);
  }
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
  var lat = data.p50_ms.concat(data.p99_ms, data.max_ms).filter(function (v) { return v !== null && v > 0; });
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
    labels: ['t', 'p50 (ms)', 'p99 (ms)', 'max (ms)'],
    ylabel: 'latency (ms, log)',
    axes: { y: { axisLabelWidth: 60 } },
    logscale: true,
    valueRange: latRange,
    colors: ['#78909c', '#2e7d32', '#c62828'],
    underlayCallback: function (ctx, area, g) { shade(ctx, area, g, false); },
  }));
  charts = [g1, g2];
  layoutTimeline(g1);
  filterList(g1.xAxisRange());
  window.addEventListener('resize', function () { layoutTimeline(g1); });
  body.dataset.series = String(g1.numColumns() - 1 + g2.numColumns() - 1);
  body.dataset.shaded = String(shadedCount);
  body.dataset.chartReady = '1';
  body.dataset.readyMs = String(Math.round(performance.now()));  // from the page's navigation start
})();
