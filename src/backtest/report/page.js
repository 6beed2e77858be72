// Draws the report's plots on <canvas> from the JSON embedded in #report-data. No library,
// no network. After each plot the canvas gets data-points (points drawn); when every plot
// is drawn <body> gets data-rendered="1". Errors land in #report-errors (see the hook in
// the page head).
(function () {
  "use strict";
  var PALETTE = ["#1f5fbf", "#d9822b", "#11734b", "#8e44ad", "#c0392b", "#16a0a8", "#7f8c8d"];
  var BUY = "#11734b";
  var SELL = "#c0392b";
  var PAD = { left: 78, right: 16, top: 28, bottom: 34 };

  function pad2(n) { return (n < 10 ? "0" : "") + n; }

  function timeLabel(ms, spanMs) {
    var d = new Date(ms);
    var hm = pad2(d.getUTCHours()) + ":" + pad2(d.getUTCMinutes());
    if (spanMs > 2 * 86400000) {
      return d.getUTCFullYear() + "-" + pad2(d.getUTCMonth() + 1) + "-" + pad2(d.getUTCDate());
    }
    if (spanMs < 600000) { return hm + ":" + pad2(d.getUTCSeconds()); }
    return hm;
  }

  function numberLabel(v) {
    var a = Math.abs(v);
    if (a >= 1000) { return v.toFixed(0); }
    if (a >= 10) { return v.toFixed(2); }
    if (a >= 0.1) { return v.toFixed(3); }
    return v.toPrecision(3);
  }

  function frame(canvas, title) {
    var ctx = canvas.getContext("2d");
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = "#1d2430";
    ctx.font = "bold 13px sans-serif";
    ctx.fillText(title, PAD.left, 18);
    return ctx;
  }

  function noData(canvas, title) {
    var ctx = frame(canvas, title);
    ctx.fillStyle = "#7f8c8d";
    ctx.font = "13px sans-serif";
    ctx.fillText("no data", canvas.width / 2 - 20, canvas.height / 2);
    canvas.setAttribute("data-points", "0");
  }

  function bounds(series, markers) {
    var b = { t0: Infinity, t1: -Infinity, v0: Infinity, v1: -Infinity };
    function take(t, v) {
      for (var i = 0; i < t.length; i++) {
        if (t[i] < b.t0) { b.t0 = t[i]; }
        if (t[i] > b.t1) { b.t1 = t[i]; }
        if (v[i] < b.v0) { b.v0 = v[i]; }
        if (v[i] > b.v1) { b.v1 = v[i]; }
      }
    }
    series.forEach(function (s) { take(s.t, s.v); });
    markers.forEach(function (m) { take(m.t, m.v); });
    if (b.t1 <= b.t0) { b.t1 = b.t0 + 1; }
    if (b.v1 <= b.v0) { var mid = b.v0; b.v0 = mid - 1; b.v1 = mid + 1; }
    var margin = (b.v1 - b.v0) * 0.05;
    b.v0 -= margin;
    b.v1 += margin;
    return b;
  }

  function axes(ctx, canvas, b, yUnit) {
    var w = canvas.width - PAD.left - PAD.right;
    var h = canvas.height - PAD.top - PAD.bottom;
    ctx.strokeStyle = "#d8dde6";
    ctx.fillStyle = "#4a5568";
    ctx.font = "11px sans-serif";
    ctx.lineWidth = 1;
    for (var i = 0; i <= 4; i++) {
      var y = PAD.top + h * i / 4;
      var value = b.v1 - (b.v1 - b.v0) * i / 4;
      ctx.beginPath();
      ctx.moveTo(PAD.left, y);
      ctx.lineTo(PAD.left + w, y);
      ctx.stroke();
      ctx.fillText(numberLabel(value) + yUnit, 4, y + 4);
    }
    for (var j = 0; j <= 5; j++) {
      var x = PAD.left + w * j / 5;
      var t = b.t0 + (b.t1 - b.t0) * j / 5;
      ctx.fillText(timeLabel(t, b.t1 - b.t0), x - 16, canvas.height - 12);
    }
    return {
      x: function (t) { return PAD.left + (t - b.t0) / (b.t1 - b.t0) * w; },
      y: function (v) { return PAD.top + (b.v1 - v) / (b.v1 - b.v0) * h; }
    };
  }

  function legend(ctx, canvas, items) {
    var x = canvas.width - PAD.right;
    ctx.font = "12px sans-serif";
    for (var i = items.length - 1; i >= 0; i--) {
      var width = ctx.measureText(items[i].name).width;
      x -= width + 6;
      ctx.fillStyle = "#1d2430";
      ctx.fillText(items[i].name, x, 18);
      x -= 16;
      ctx.fillStyle = items[i].color;
      ctx.fillRect(x, 9, 12, 10);
      x -= 12;
    }
  }

  function marker(ctx, x, y, up, color) {
    ctx.fillStyle = color;
    ctx.beginPath();
    if (up) {
      ctx.moveTo(x, y - 6); ctx.lineTo(x - 5, y + 4); ctx.lineTo(x + 5, y + 4);
    } else {
      ctx.moveTo(x, y + 6); ctx.lineTo(x - 5, y - 4); ctx.lineTo(x + 5, y - 4);
    }
    ctx.closePath();
    ctx.fill();
  }

  // series: [{name, t, v}], markers: [{t, v, up, color}]
  function linePlot(canvas, title, series, markers, yUnit) {
    var drawn = 0;
    series.forEach(function (s) { drawn += s.t.length; });
    markers.forEach(function (m) { drawn += m.t.length; });
    if (drawn === 0) { noData(canvas, title); return; }
    var ctx = frame(canvas, title);
    var b = bounds(series, markers);
    var map = axes(ctx, canvas, b, yUnit);
    var items = [];
    series.forEach(function (s, k) {
      var color = PALETTE[k % PALETTE.length];
      items.push({ name: s.name, color: color });
      ctx.strokeStyle = color;
      ctx.lineWidth = k === 0 ? 2 : 1.5;
      ctx.beginPath();
      for (var i = 0; i < s.t.length; i++) {
        var x = map.x(s.t[i]);
        var y = map.y(s.v[i]);
        if (i === 0) { ctx.moveTo(x, y); } else { ctx.lineTo(x, y); }
      }
      ctx.stroke();
    });
    markers.forEach(function (m) {
      items.push({ name: m.name, color: m.color });
      for (var i = 0; i < m.t.length; i++) {
        marker(ctx, map.x(m.t[i]), map.y(m.v[i]), m.up, m.color);
      }
    });
    legend(ctx, canvas, items);
    canvas.setAttribute("data-points", String(drawn));
  }

  function barPlot(canvas, title, bars) {
    var total = 0;
    bars.forEach(function (bar) { total += bar.count; });
    if (total === 0) { noData(canvas, title); return; }
    var ctx = frame(canvas, title);
    var w = canvas.width - PAD.left - PAD.right;
    var h = canvas.height - PAD.top - PAD.bottom;
    var top = 0;
    bars.forEach(function (bar) { if (bar.count > top) { top = bar.count; } });
    var slot = w / bars.length;
    ctx.font = "11px sans-serif";
    ctx.strokeStyle = "#d8dde6";
    ctx.fillStyle = "#4a5568";
    for (var i = 0; i <= 4; i++) {
      var y = PAD.top + h * i / 4;
      ctx.beginPath(); ctx.moveTo(PAD.left, y); ctx.lineTo(PAD.left + w, y); ctx.stroke();
      ctx.fillText(String(Math.round(top * (4 - i) / 4)), 4, y + 4);
    }
    bars.forEach(function (bar, k) {
      var height = bar.count / top * h;
      ctx.fillStyle = PALETTE[0];
      ctx.fillRect(PAD.left + k * slot + 2, PAD.top + h - height, Math.max(slot - 4, 1), height);
      ctx.fillStyle = "#4a5568";
      ctx.fillText(bar.label, PAD.left + k * slot + 2, canvas.height - 12);
    });
    canvas.setAttribute("data-points", String(total));
  }

  var data = JSON.parse(document.getElementById("report-data").textContent);
  linePlot(document.getElementById("plot-equity"),
    "Equity (" + data.asset + ")", data.equity, [], "");
  linePlot(document.getElementById("plot-drawdown"),
    "Drawdown below the running peak", data.drawdown, [], "%");
  data.prices.forEach(function (p, i) {
    linePlot(document.getElementById("plot-price-" + i), p.symbol + " mark and fills",
      [{ name: p.symbol, t: p.t, v: p.v }],
      [{ name: "buy", t: p.buys.t, v: p.buys.v, up: true, color: BUY },
       { name: "sell", t: p.sells.t, v: p.sells.v, up: false, color: SELL }], "");
  });
  barPlot(document.getElementById("plot-latency"),
    "Order round trip (intent to first answer), simulated", data.latency);
  document.body.setAttribute("data-rendered", "1");
})();
