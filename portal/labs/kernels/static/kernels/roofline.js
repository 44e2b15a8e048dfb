// Roofline and size-sweep charts for the kernel lab page (Chart.js 4, log axes).
(function () {
  "use strict";
  const charts = [];
  const COLORS = {
    eager: "#6b7280", compiled: "#2563eb", triton: "#dc2626", cpp: "#059669", torch_online: "#d97706",
  };
  const DASH = { float32: [], float16: [6, 3], bfloat16: [2, 2] };

  function roofLines(data, xs) {
    // For each dtype: y = min(peak compute, intensity * bandwidth), in TFLOP/s.
    const lines = [];
    if (!data.mem_gbs) return lines;
    const lo = Math.min(...xs, 0.01) / 2, hi = Math.max(...xs, 1000) * 2;
    for (const [dtype, peak] of Object.entries(data.tflops || {})) {
      if (!peak) continue;
      const ridge = (peak * 1e3) / data.mem_gbs;
      const pts = [{ x: lo, y: (lo * data.mem_gbs) / 1e3 }];
      if (ridge > lo && ridge < hi) pts.push({ x: ridge, y: peak });
      pts.push({ x: hi, y: Math.min(peak, (hi * data.mem_gbs) / 1e3) });
      lines.push({
        type: "line", label: `roof ${dtype}`, data: pts, borderColor: "#111827",
        borderDash: DASH[dtype] || [], borderWidth: 1, pointRadius: 0, fill: false,
      });
    }
    return lines;
  }

  function draw() {
    while (charts.length) charts.pop().destroy();
    const data = window.portalJSON("kernel-chart-data");
    if (!data || typeof Chart === "undefined") return;
    const groups = {};
    for (const p of data.points) {
      if (!p.tflops || !p.intensity) continue;
      const key = `${p.kernel} · ${p.impl} · ${p.dtype}`;
      (groups[key] = groups[key] || { impl: p.impl, dtype: p.dtype, pts: [] }).pts.push(p);
    }
    const scatter = Object.entries(groups).map(([label, g]) => ({
      type: "scatter", label, borderColor: COLORS[g.impl] || "#7c3aed",
      backgroundColor: COLORS[g.impl] || "#7c3aed", pointStyle: g.dtype === "float32" ? "circle" : "triangle",
      data: g.pts.map((p) => ({ x: p.intensity, y: p.tflops, n: p.n })),
    }));
    const xs = data.points.map((p) => p.intensity).filter((x) => x > 0);
    const roof = document.getElementById("roofline-chart");
    if (roof) {
      charts.push(new Chart(roof, {
        data: { datasets: [...roofLines(data, xs), ...scatter] },
        options: {
          animation: false,
          scales: {
            x: { type: "logarithmic", title: { display: true, text: "FLOP / byte" } },
            y: { type: "logarithmic", title: { display: true, text: "TFLOP/s" } },
          },
          plugins: {
            legend: { labels: { boxWidth: 10 } },
            tooltip: { callbacks: { label: (c) => `${c.dataset.label} n=${c.raw.n ?? ""}: ${c.raw.y.toPrecision(3)} TFLOP/s` } },
          },
        },
      }));
    }
    const sweep = document.getElementById("sweep-chart");
    if (sweep) {
      const lines = Object.entries(groups).map(([label, g]) => ({
        type: "line", label, borderColor: COLORS[g.impl] || "#7c3aed", borderDash: DASH[g.dtype] || [],
        data: g.pts.filter((p) => p.frac_roofline).sort((a, b) => a.n - b.n)
          .map((p) => ({ x: p.n, y: 100 * p.frac_roofline })),
      }));
      charts.push(new Chart(sweep, {
        data: { datasets: lines },
        options: {
          animation: false,
          scales: {
            x: { type: "logarithmic", title: { display: true, text: "n" } },
            y: { type: "logarithmic", title: { display: true, text: "% of roofline" } },
          },
          plugins: { legend: { labels: { boxWidth: 10 } } },
        },
      }));
    }
  }

  document.addEventListener("DOMContentLoaded", draw);
  // The results section is swapped by htmx when another sweep is picked.
  document.addEventListener("htmx:afterSettle", draw);
})();
