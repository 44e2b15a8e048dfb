// Curriculum progress charts: each <canvas data-chart="kind" data-source="json-script-id">.
(function () {
  "use strict";
  const palette = { accent: "#0f62fe", plan: "#a8b3c7", ok: "#198038" };

  const builders = {
    phases: (d) => ({
      type: "bar",
      data: { labels: d.phases.labels, datasets: [{ label: "%", data: d.phases.done, backgroundColor: palette.accent }] },
      options: { indexAxis: "y", scales: { x: { min: 0, max: 100 } }, plugins: { legend: { display: false } } },
    }),
    hours: (d) => ({
      type: "bar",
      data: {
        labels: d.hours.labels,
        datasets: [
          { label: "实际 %", data: d.hours.actual, backgroundColor: palette.accent },
          { label: "计划 %", data: d.hours.planned, backgroundColor: palette.plan },
        ],
      },
      options: { scales: { y: { min: 0, max: 100 } } },
    }),
    weeks: (d) => ({
      type: "bar",
      data: {
        labels: d.weeks.labels,
        datasets: [
          { label: "完成", data: d.weeks.done, backgroundColor: palette.ok },
          { label: "总数", data: d.weeks.total, backgroundColor: palette.plan },
        ],
      },
      options: { scales: { x: { stacked: false }, y: { beginAtZero: true } } },
    }),
  };

  function render(root) {
    if (typeof Chart === "undefined") return;
    root.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
      const data = window.portalJSON(canvas.dataset.source);
      const build = builders[canvas.dataset.chart];
      if (!data || !build) return;
      const existing = Chart.getChart(canvas);
      if (existing) existing.destroy();
      new Chart(canvas, build(data));
    });
  }

  document.addEventListener("DOMContentLoaded", () => render(document));
  document.addEventListener("htmx:afterSettle", (event) => render(event.target));
})();
