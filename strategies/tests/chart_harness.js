// Runs static/strategies/chart.js under Node with a minimal DOM, and prints what it drew.
// Usage: node chart_harness.js <chart.js> <chart data as JSON>
"use strict";
const fs = require("fs");

function element(tag) {
  return {
    tag, children: [], style: {}, attrs: {}, textContent: "", listeners: {},
    setAttribute(key, value) { this.attrs[key] = String(value); },
    addEventListener(name, listener) { this.listeners[name] = listener; },
    appendChild(child) { this.children.push(child); return child; },
    getBoundingClientRect() { return { width: 1000, height: 300 }; },
  };
}

const svgs = {
  "price-chart": element("svg"),
  "oscillator-chart": element("svg"),
  "equity-chart": element("svg"),
};
const data = process.argv[3];
globalThis.document = {
  getElementById: (id) => (id === "chart-data" ? { textContent: data } : svgs[id]),
  createElementNS: (ns, tag) => element(tag),
};
eval(fs.readFileSync(process.argv[2], "utf8"));

// A pointer over the middle of the price panel (1000 px wide, plot from 70 to 988).
svgs["price-chart"].listeners.mousemove({ clientX: 70 + (1000 - 70 - 12) / 2 });

const texts = (svg, cls) => svg.children.filter((c) => c.tag === "text" && c.attrs.class === cls);
const lines = (svg) => svg.children.filter((c) => c.tag === "path" && c.attrs.d.length > 10);
const marks = (svg, side) => svg.children.filter((c) => c.tag === "polygon" && c.attrs.class === side);
console.log(JSON.stringify({
  priceLines: lines(svgs["price-chart"]).length,
  buys: marks(svgs["price-chart"], "buy").length,
  sells: marks(svgs["price-chart"], "sell").length,
  oscillatorLines: lines(svgs["oscillator-chart"]).length,
  oscillatorHidden: svgs["oscillator-chart"].style.display === "none",
  equityLines: lines(svgs["equity-chart"]).length,
  priceTicks: texts(svgs["price-chart"], "tick").map((t) => t.textContent),
  readout: texts(svgs["price-chart"], "readout").map((t) => t.textContent)[0] || "",
  equityNote: texts(svgs["equity-chart"], "note").map((t) => t.textContent)[0] || "",
}));
