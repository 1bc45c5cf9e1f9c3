/*
 * The strategy page's charts, drawn as SVG by this file alone (no library, no CDN), from the
 * JSON the page embeds with json_script (#chart-data):
 *   times[] (ms), closes[], overlays[{name, values[]}], oscillators[{name, values[]}],
 *   levels[], trades[{t, side, price, label}], equity[{t, v}]
 * Missing values (an indicator warming up) are null and leave a gap in the line.
 */
(function () {
  "use strict";

  var NS = "http://www.w3.org/2000/svg";
  var PAD = { left: 70, right: 12, top: 22, bottom: 22 };
  var COLORS = ["#2f6fde", "#e08a1e", "#8b47c9", "#16a0a0", "#c2417a"];

  function node(name, attrs, parent) {
    var el = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (key) { el.setAttribute(key, attrs[key]); });
    if (parent) { parent.appendChild(el); }
    return el;
  }

  function finite(values) {
    return values.filter(function (v) { return v !== null && isFinite(v); });
  }

  function label(value) {
    var abs = Math.abs(value);
    if (abs !== 0 && (abs < 0.001 || abs >= 1e7)) { return value.toExponential(3); }
    return Number(value.toPrecision(6)).toString();
  }

  /* Round tick values over [lo, hi]: steps of 1, 2 or 5 times a power of ten, so the axis
     reads 97,000 / 97,500 / 98,000, not 97,105.9 / 97,432.1. Returns {step, ticks}. */
  function niceTicks(lo, hi, count) {
    var raw = (hi - lo) / count;
    var power = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 5, 10].map(function (m) { return m * power; })
      .filter(function (s) { return s >= raw; })[0];
    var ticks = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
      ticks.push(Number(v.toFixed(12)));
    }
    return { step: step, ticks: ticks };
  }

  /* A tick's text: as many decimals as the step needs, thousands grouped. */
  function tickLabel(value, step) {
    var decimals = Math.max(0, Math.min(8, -Math.floor(Math.log10(step))));
    if (Math.abs(value) >= 1e7) { return value.toExponential(2); }
    return value.toLocaleString("en-US", {
      minimumFractionDigits: decimals, maximumFractionDigits: decimals
    });
  }

  function day(ms) {
    return new Date(ms).toISOString().slice(5, 16).replace("T", " ");
  }

  /* One panel: lines over a shared time axis [t0, t1], markers and level lines. */
  function panel(svg, t0, t1, lines, markers, levels) {
    // The viewBox is the element's own size, so text is never stretched.
    var box = svg.getBoundingClientRect();
    var WIDTH = box.width || 1000, height = box.height || 200;
    svg.setAttribute("viewBox", "0 0 " + WIDTH + " " + height);
    var values = [];
    lines.forEach(function (l) { values = values.concat(finite(l.values)); });
    markers.forEach(function (m) { values.push(m.price); });
    values = values.concat(levels);
    if (!values.length) { return; }
    var lo = Math.min.apply(null, values), hi = Math.max.apply(null, values);
    if (lo === hi) { lo -= Math.abs(lo) * 0.01 || 1; hi += Math.abs(hi) * 0.01 || 1; }
    var margin = (hi - lo) * 0.06;
    lo -= margin; hi += margin;
    var plotW = WIDTH - PAD.left - PAD.right, plotH = height - PAD.top - PAD.bottom;
    function x(t) { return PAD.left + (t1 === t0 ? plotW / 2 : (t - t0) / (t1 - t0) * plotW); }
    function y(v) { return PAD.top + (hi - v) / (hi - lo) * plotH; }

    var scale = niceTicks(lo, hi, 5);
    scale.ticks.forEach(function (v) {
      node("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(v), y2: y(v), "class": "grid" }, svg);
      node("text", { x: PAD.left - 6, y: y(v) + 4, "text-anchor": "end", "class": "tick" }, svg)
        .textContent = tickLabel(v, scale.step);
    });
    for (var j = 0; j <= 4; j++) {
      var t = t0 + (t1 - t0) * j / 4;
      var anchor = j === 0 ? "start" : j === 4 ? "end" : "middle";  // ends stay inside
      node("text", { x: x(t), y: height - 6, "text-anchor": anchor }, svg).textContent = day(t);
    }
    levels.forEach(function (level) {
      node("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(level), y2: y(level), "class": "level" }, svg);
    });

    var legendX = PAD.left;
    lines.forEach(function (l, index) {
      var color = l.color || COLORS[index % COLORS.length];
      var path = "", pen = false;
      l.values.forEach(function (v, k) {
        if (v === null || !isFinite(v)) { pen = false; return; }
        path += (pen ? "L" : "M") + x(l.times[k]).toFixed(1) + " " + y(v).toFixed(1);
        pen = true;
      });
      node("path", { d: path, stroke: color, "class": "line", "vector-effect": "non-scaling-stroke" }, svg);
      var text = node("text", { x: legendX, y: 14, fill: color }, svg);
      text.textContent = l.name;
      text.style.fill = color;
      legendX += 12 + 7 * l.name.length;
    });

    hover(svg, lines, x, t0, t1, plotW, height);

    markers.forEach(function (m) {
      var cx = x(m.t), cy = y(m.price), s = 7;
      var points = m.side === "buy"
        ? [cx, cy + 3, cx - s, cy + 3 + 1.6 * s, cx + s, cy + 3 + 1.6 * s]
        : [cx, cy - 3, cx - s, cy - 3 - 1.6 * s, cx + s, cy - 3 - 1.6 * s];
      var mark = node("polygon", { points: points.join(" "), "class": m.side }, svg);
      node("title", {}, mark).textContent = m.side + " at " + m.label + " (" + day(m.t) + " UTC)";
    });
  }

  /* Values on hover: a cursor line and, at the top right, the time and each line's value
     at the nearest point. */
  function hover(svg, lines, x, t0, t1, plotW, height) {
    if (!svg.addEventListener || !lines.length) { return; }
    var cursor = node("line", { y1: PAD.top, y2: height - PAD.bottom, "class": "cursor" }, svg);
    var readout = node("text", { x: PAD.left + plotW, y: 14, "text-anchor": "end", "class": "readout" }, svg);
    cursor.setAttribute("visibility", "hidden");
    svg.addEventListener("mousemove", function (event) {
      var box = svg.getBoundingClientRect();
      var fraction = (event.clientX - box.left - PAD.left) / plotW;
      if (fraction < 0 || fraction > 1) { return; }
      var t = t0 + fraction * (t1 - t0);
      var parts = [];
      lines.forEach(function (l) {
        var k = nearest(l.times, t);
        if (k >= 0 && l.values[k] !== null) { parts.push(l.name + " " + label(l.values[k])); }
      });
      var k0 = nearest(lines[0].times, t);
      var at = k0 >= 0 ? lines[0].times[k0] : t;
      cursor.setAttribute("x1", x(at));
      cursor.setAttribute("x2", x(at));
      cursor.setAttribute("visibility", "visible");
      readout.textContent = day(at) + " UTC · " + parts.join(" · ");
    });
    svg.addEventListener("mouseleave", function () {
      cursor.setAttribute("visibility", "hidden");
      readout.textContent = "";
    });
  }

  function nearest(times, t) {
    if (!times.length) { return -1; }
    var lo = 0, hi = times.length - 1;
    while (hi - lo > 1) {
      var mid = (lo + hi) >> 1;
      if (times[mid] < t) { lo = mid; } else { hi = mid; }
    }
    return Math.abs(times[lo] - t) <= Math.abs(times[hi] - t) ? lo : hi;
  }

  /* A line across the middle of an empty or flat panel, saying why. */
  function note(svg, text) {
    var box = svg.getBoundingClientRect();
    node("text", { x: (box.width || 1000) / 2, y: (box.height || 200) / 2, "text-anchor": "middle", "class": "note" }, svg)
      .textContent = text;
  }

  /* Draw the three panels from `data`, on empty panels. */
  function draw(data) {
    ["price-chart", "oscillator-chart", "equity-chart"].forEach(function (id) {
      var svg = document.getElementById(id);
      while (svg && svg.firstChild) { svg.removeChild(svg.firstChild); }
    });
    if (!data.times || !data.times.length) { return; }
    var times = data.times, t0 = times[0], t1 = times[times.length - 1];
    function on(values) { return { times: times, values: values }; }

    var priceLines = [Object.assign(on(data.closes), { name: "close", color: "#333" })];
    data.overlays.forEach(function (s) { priceLines.push(Object.assign(on(s.values), { name: s.name })); });
    panel(document.getElementById("price-chart"), t0, t1, priceLines, data.trades, []);

    var oscillator = document.getElementById("oscillator-chart");
    if (data.oscillators.length) {
      var lower = data.oscillators.map(function (s) { return Object.assign(on(s.values), { name: s.name }); });
      panel(oscillator, t0, t1, lower, [], data.levels);
    } else {
      oscillator.style.display = "none";
    }

    var equityChart = document.getElementById("equity-chart");
    var equity = data.equity.map(function (p) { return p.t; });
    var values = data.equity.map(function (p) { return p.v; });
    if (!values.length) {
      note(equityChart, "No equity yet: the paper account opens at the strategy's first run.");
    } else {
      panel(equityChart, t0, t1,
            [{ name: "equity", color: "#187a3a", times: equity, values: values }], [], []);
      if (Math.min.apply(null, values) === Math.max.apply(null, values)) {
        note(equityChart, "Flat: all cash, no position held yet (no buy signal in this window).");
      }
    }
  }

  /* Refresh without a reload: fetch this page again every `data-refresh` seconds, put its
     numbers, charts and trades in place of these, and redraw. */
  function refresh() {
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var live = fresh.getElementById("live"), source = fresh.getElementById("chart-data");
        if (!live || !source) { return; }
        document.getElementById("live").innerHTML = live.innerHTML;
        draw(JSON.parse(source.textContent));
      })
      .catch(function () { /* the next tick tries again */ });
  }

  var source = document.getElementById("chart-data");
  if (!source) { return; }
  draw(JSON.parse(source.textContent));
  var every = Number(document.body && document.body.dataset ? document.body.dataset.refresh : 0);
  if (every > 0 && typeof window !== "undefined" && window.fetch && window.DOMParser) {
    window.setInterval(refresh, every * 1000);
  }
}());
