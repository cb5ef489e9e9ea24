/* Draws every <canvas data-chart="ID"> from the JSON config in <script id="ID">, and keeps
   run progress bars ([data-progress-url]) up to date by polling their JSON view every 2 s.

   Colours in a config are names of the palette in static/css/crm.css, the one place that says
   what each colour means: "var(--risk-high)" is drawn in that custom property's value, and
   "var(--series-2) / 0.15" in it at 15 % opacity (core/charts.py writes them). */
(function () {
  "use strict";

  var TOKEN = /^var\((--[a-z0-9-]+)\)(?:\s*\/\s*([0-9.]+))?$/;

  function paletteColour(value, style) {
    var match = typeof value === "string" && TOKEN.exec(value.trim());
    if (!match) { return value; }
    var hex = style.getPropertyValue(match[1]).trim();
    if (!hex) { return value; }
    if (match[2] === undefined) { return hex; }
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + [(n >> 16) & 255, (n >> 8) & 255, n & 255, match[2]].join(",") + ")";
  }

  // Every string of a dataset (colours, and arrays of them) that names a palette colour.
  function resolveColours(config) {
    var style = getComputedStyle(document.documentElement);
    (config.data.datasets || []).forEach(function (dataset) {
      Object.keys(dataset).forEach(function (key) {
        var value = dataset[key];
        dataset[key] = Array.isArray(value) ? value.map(function (v) { return paletteColour(v, style); })
          : paletteColour(value, style);
      });
    });
    return config;
  }

  function drawCharts() {
    if (typeof Chart === "undefined") { return; }
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.maintainAspectRatio = false;
    if (window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches) {
      Chart.defaults.animation = false;
    }
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var source = document.getElementById(canvas.dataset.chart);
      if (!source || Chart.getChart(canvas)) { return; }
      var config = resolveColours(JSON.parse(source.textContent));
      config.options = Object.assign({ responsive: true, plugins: { legend: { display: config.type !== "bar" || config.data.datasets.length > 1 } } }, config.options || {});
      new Chart(canvas, config);
    });
  }

  function pollProgress(box) {
    var url = box.dataset.progressUrl;
    var bar = box.querySelector("progress");
    var text = box.querySelector(".progress-text");
    var timer = setInterval(function () {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
        .then(function (run) {
          bar.value = run.progress;
          text.textContent = run.progress + " %" + (run.stage ? " · " + (run.stage_label || run.stage) : "");
          if (run.finished) {
            clearInterval(timer);
            window.location.reload();
          }
        })
        .catch(function () { clearInterval(timer); });
    }, 2000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts();
    document.querySelectorAll("[data-progress-url]").forEach(pollProgress);
  });
})();
