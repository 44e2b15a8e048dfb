// The compare page: every run's metrics overlaid on one chart per metric name.
(function () {
  "use strict";
  const data = window.portalJSON("compare-data");
  const container = document.getElementById("compare-charts");
  if (!data || !container || !window.LabCharts) return;
  const charts = window.LabCharts(container);
  data.runs.forEach((run, index) => {
    Object.entries(run.metrics).forEach(([name, points]) => charts.add(name, run.label, index, points));
  });
  window.labsCompare = { charts };
})();
