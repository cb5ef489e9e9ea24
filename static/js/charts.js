/* Draws every <canvas data-chart="ID"> from the JSON config in <script id="ID">, and keeps
   run progress bars ([data-progress-url]) up to date by polling their JSON view every 2 s. */
(function () {
  "use strict";

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
      var config = JSON.parse(source.textContent);
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
