/*
 * Kara Support Chat: small SVG charts for the reports page. Exposed as
 * `window.KaraCharts`. No library, nothing fetched: the gateway serves this
 * file itself (CSP script-src 'self').
 *
 * Rule (as widget/text.js): every label and value is a text node
 * (createElementNS + textContent), never markup, so a queue, reason or agent
 * name can never inject anything.
 *
 * Each chart is a <figure class="kc-chart"> holding a <figcaption> and an
 * <svg role="img">; each row is a <g class="kc-row" data-label="..."> with
 * its label and value texts, so the figures are also readable as text (and by
 * a screen reader through the row's <title>).
 *
 *   KaraCharts.bars(parent, {title, rows: [{label, value, text}], empty})
 *       horizontal bars, one per row, longest = the largest value;
 *   KaraCharts.pairs(parent, {title, series: [name, name], rows: [{label, values: [a, b], texts: [ta, tb]}], log})
 *       two bars per row (p50 and p95), on one scale (log: logarithmic, for times);
 *   KaraCharts.stacked(parent, {title, parts: [name, name], rows: [{label, values: [met, breached], text}]})
 *       one bar per row split in parts that sum to its whole (SLA met / breached);
 *   KaraCharts.columns(parent, {title, rows: [{label, value, text}]})
 *       vertical columns (a distribution: CSAT 1..5).
 */
(function (global) {
  "use strict";

  if (global.KaraCharts) return;

  var SVG = "http://www.w3.org/2000/svg";
  var ROW_H = 26;
  var LABEL_W = 150;
  var VALUE_W = 120;
  var WIDTH = 560;

  function svgEl(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, String(attrs[key])); });
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function frame(parent, title, height, className) {
    var figure = document.createElement("figure");
    figure.className = "kc-chart" + (className ? " " + className : "");
    var caption = document.createElement("figcaption");
    caption.textContent = title;
    figure.appendChild(caption);
    var svg = svgEl("svg", { viewBox: "0 0 " + WIDTH + " " + height, width: "100%", role: "img", "aria-label": title });
    svg.appendChild(svgEl("title", {}, title));
    figure.appendChild(svg);
    parent.appendChild(figure);
    return { figure: figure, svg: svg };
  }

  function emptyNote(figure, text) {
    var p = document.createElement("p");
    p.className = "kc-empty";
    p.textContent = text || "No data in this period.";
    figure.appendChild(p);
  }

  function row(svg, label, y, summary) {
    var g = svgEl("g", { "class": "kc-row", "data-label": label });
    g.appendChild(svgEl("title", {}, label + ": " + summary));
    g.appendChild(svgEl("text", { "class": "kc-label", x: LABEL_W - 8, y: y + ROW_H / 2 + 4, "text-anchor": "end" }, label));
    svg.appendChild(g);
    return g;
  }

  function scale(max) {
    var room = WIDTH - LABEL_W - VALUE_W;
    return function (value) { return max > 0 ? Math.max(value > 0 ? 2 : 0, (value / max) * room) : 0; };
  }

  function valueText(g, x, y, text, cls) {
    g.appendChild(svgEl("text", { "class": "kc-value" + (cls ? " " + cls : ""), x: x + 6, y: y + 4 }, text));
  }

  function bars(parent, spec) {
    var rows = spec.rows || [];
    var f = frame(parent, spec.title, Math.max(1, rows.length) * ROW_H + 8);
    if (!rows.length) { emptyNote(f.figure, spec.empty); return f.figure; }
    var x = scale(Math.max.apply(null, rows.map(function (r) { return r.value || 0; })));
    rows.forEach(function (r, i) {
      var y = 4 + i * ROW_H;
      var g = row(f.svg, r.label, y, r.text);
      var w = x(r.value || 0);
      g.appendChild(svgEl("rect", { "class": "kc-bar kc-s0", x: LABEL_W, y: y + 4, width: w, height: ROW_H - 8, rx: 3 }));
      valueText(g, LABEL_W + w, y + ROW_H / 2, r.text);
    });
    return f.figure;
  }

  function legend(figure, names, prefix) {
    var list = document.createElement("ul");
    list.className = "kc-legend";
    names.forEach(function (name, i) {
      var item = document.createElement("li");
      var swatch = document.createElement("span");
      swatch.className = "kc-swatch " + prefix + i;
      swatch.setAttribute("aria-hidden", "true");
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(name));
      list.appendChild(item);
    });
    figure.insertBefore(list, figure.querySelector("svg"));
  }

  function pairs(parent, spec) {
    var rows = spec.rows || [];
    var f = frame(parent, spec.title, Math.max(1, rows.length) * ROW_H * 2 + 8);
    legend(f.figure, spec.series, "kc-s");
    if (!rows.length) { emptyNote(f.figure, spec.empty); return f.figure; }
    // spec.log: times spanning seconds to days stay readable (a 40 s bar next to a 42 h one)
    var f0 = spec.log ? function (v) { return Math.log(1 + (v || 0)); } : function (v) { return v || 0; };
    var max = 0;
    rows.forEach(function (r) { r.values.forEach(function (v) { max = Math.max(max, f0(v)); }); });
    var linear = scale(max);
    var x = function (v) { return linear(f0(v)); };
    rows.forEach(function (r, i) {
      var y = 4 + i * ROW_H * 2;
      var g = row(f.svg, r.label, y + ROW_H / 2, spec.series.map(function (s, k) { return s + " " + r.texts[k]; }).join(", "));
      r.values.forEach(function (v, k) {
        var top = y + k * (ROW_H - 4) + 2;
        var w = x(v);
        var bar = svgEl("rect", { "class": "kc-bar kc-s" + k, x: LABEL_W, y: top, width: w, height: ROW_H - 10, rx: 3 });
        g.appendChild(bar);
        valueText(g, LABEL_W + w, top + (ROW_H - 10) / 2, r.texts[k], "kc-v" + k);
      });
    });
    return f.figure;
  }

  function stacked(parent, spec) {
    var rows = spec.rows || [];
    var f = frame(parent, spec.title, Math.max(1, rows.length) * ROW_H + 8);
    legend(f.figure, spec.parts, "kc-p");
    if (!rows.length) { emptyNote(f.figure, spec.empty); return f.figure; }
    var room = WIDTH - LABEL_W - VALUE_W;
    rows.forEach(function (r, i) {
      var y = 4 + i * ROW_H;
      var g = row(f.svg, r.label, y, r.text);
      var total = r.values.reduce(function (a, b) { return a + (b || 0); }, 0);
      var left = LABEL_W;
      if (!total) {
        g.appendChild(svgEl("rect", { "class": "kc-bar kc-none", x: LABEL_W, y: y + 4, width: room, height: ROW_H - 8, rx: 3 }));
      }
      r.values.forEach(function (v, k) {
        if (!total || !v) return;
        var w = (v / total) * room;
        g.appendChild(svgEl("rect", { "class": "kc-bar kc-p" + k, x: left, y: y + 4, width: w, height: ROW_H - 8 }));
        left += w;
      });
      valueText(g, LABEL_W + room, y + ROW_H / 2, r.text);
    });
    return f.figure;
  }

  function columns(parent, spec) {
    var rows = spec.rows || [];
    var height = 150;
    var f = frame(parent, spec.title, height + 40, "kc-columns");
    var max = Math.max.apply(null, [0].concat(rows.map(function (r) { return r.value || 0; })));
    if (!max) { emptyNote(f.figure, spec.empty); }
    var step = (WIDTH - 40) / Math.max(1, rows.length);
    rows.forEach(function (r, i) {
      var g = svgEl("g", { "class": "kc-row", "data-label": r.label });
      g.appendChild(svgEl("title", {}, r.label + ": " + r.text));
      var h = max ? (r.value / max) * (height - 20) : 0;
      var x = 20 + i * step + step * 0.2;
      g.appendChild(svgEl("rect", { "class": "kc-bar kc-s0", x: x, y: height - h, width: step * 0.6, height: h, rx: 3 }));
      g.appendChild(svgEl("text", { "class": "kc-value", x: x + step * 0.3, y: height - h - 6, "text-anchor": "middle" }, r.text));
      g.appendChild(svgEl("text", { "class": "kc-label", x: x + step * 0.3, y: height + 22, "text-anchor": "middle" }, r.label));
      f.svg.appendChild(g);
    });
    return f.figure;
  }

  global.KaraCharts = { bars: bars, pairs: pairs, stacked: stacked, columns: columns };
})(window);
