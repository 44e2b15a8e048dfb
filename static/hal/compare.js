// Chip comparison chart: steps per second (bars) and evaluation reward (line) per sandbox run.
(function () {
  "use strict";
  function draw() {
    const canvas = document.getElementById("compare-chart");
    if (!canvas || typeof Chart === "undefined") return;
    const rows = portalJSON("compare-data") || [];
    new Chart(canvas, {
      data: {
        labels: rows.map((r) => r.label),
        datasets: [
          { type: "bar", label: "steps/s", data: rows.map((r) => r.steps_per_s), yAxisID: "speed" },
          { type: "line", label: "eval reward", data: rows.map((r) => r.eval), yAxisID: "reward" },
        ],
      },
      options: {
        scales: {
          speed: { type: "linear", position: "left" },
          reward: { type: "linear", position: "right", grid: { drawOnChartArea: false } },
        },
      },
    });
  }
  document.addEventListener("DOMContentLoaded", draw);
})();
