// One line chart per metric name (Chart.js), shared by the run and compare pages.
(function () {
  "use strict";
  const COLORS = ["#0f62fe", "#da1e28", "#198038", "#8a3ffc", "#b28600", "#007d79", "#ee5396", "#6f6f6f"];

  function makeChart(container, name) {
    const box = document.createElement("div");
    box.className = "chart-box";
    box.dataset.metric = name;
    const title = document.createElement("h3");
    title.textContent = name;
    const canvas = document.createElement("canvas");
    box.append(title, canvas);
    container.append(box);
    return new window.Chart(canvas, {
      type: "line",
      data: { datasets: [] },
      options: {
        animation: false,
        parsing: false,
        normalized: true,
        responsive: true,
        maintainAspectRatio: false,
        scales: { x: { type: "linear", title: { display: true, text: "step" } } },
        plugins: { legend: { display: false } },
      },
    });
  }

  function dataset(chart, label, index) {
    let ds = chart.data.datasets.find((d) => d.label === label);
    if (!ds) {
      const color = COLORS[index % COLORS.length];
      ds = { label, data: [], borderColor: color, backgroundColor: color, pointRadius: 2, borderWidth: 1.5 };
      chart.data.datasets.push(ds);
      if (chart.data.datasets.length > 1) chart.options.plugins.legend.display = true;
    }
    return ds;
  }

  // A set of charts in `container`, keyed by metric name; redraws at most once per frame.
  window.LabCharts = function (container) {
    const charts = {};
    let dirty = false;
    function chartFor(name) {
      if (!charts[name]) charts[name] = makeChart(container, name);
      return charts[name];
    }
    function redraw() {
      dirty = false;
      Object.values(charts).forEach((c) => c.update("none"));
    }
    return {
      charts,
      add(name, label, index, points) {
        const ds = dataset(chartFor(name), label, index);
        points.forEach(([x, y]) => ds.data.push({ x, y }));
        if (!dirty) {
          dirty = true;
          window.requestAnimationFrame(redraw);
        }
      },
      points(name) {
        const c = charts[name];
        return c ? c.data.datasets.reduce((n, d) => n + d.data.length, 0) : 0;
      },
    };
  };
})();
