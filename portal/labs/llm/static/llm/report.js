// The LLM labs' report pages: draws the charts from the data the server computed
// (portal/labs/llm/pages.py) into the canvases marked data-report-chart.
(function () {
  "use strict";
  const data = window.portalJSON && window.portalJSON("llm-report-data");
  if (!data || !window.Chart) return;
  const COLORS = ["#0f62fe", "#da1e28", "#198038", "#8a3ffc", "#b28600", "#007d79", "#ee5396", "#6f6f6f"];
  const color = (i) => COLORS[i % COLORS.length];
  const fmt = (v, digits) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits));
  const canvases = (name) => Array.from(document.querySelectorAll(`canvas[data-report-chart="${name}"]`));
  const charts = [];
  window.llmReport = { data, charts };

  function draw(canvas, config) {
    config.options = Object.assign(
      { animation: false, responsive: true, maintainAspectRatio: false },
      config.options || {}
    );
    const chart = new window.Chart(canvas, config);
    canvas.dataset.drawn = "true";
    charts.push(chart);
    return chart;
  }

  function axis(title, extra) {
    return Object.assign({ title: { display: true, text: title } }, extra || {});
  }

  // --- llm-quant -----------------------------------------------------------------------------

  function memoryQuality(canvas) {
    const points = data.memory_quality;
    draw(canvas, {
      type: "scatter",
      data: {
        datasets: points.map((p, i) => ({
          label: p.label,
          data: [{ x: p.x, y: p.y }],
          backgroundColor: color(i),
          borderColor: color(i),
          pointRadius: p.baseline ? 5 : 7,
          pointStyle: p.baseline ? "rectRot" : "circle",
        })),
      },
      options: {
        scales: {
          x: axis("memory saved vs baseline (%)", { suggestedMin: 0 }),
          y: axis("KL(baseline ‖ variant)", { beginAtZero: true }),
        },
        plugins: {
          tooltip: {
            callbacks: {
              label(ctx) {
                const p = points[ctx.datasetIndex];
                return `${p.label}: saved ${fmt(p.x, 1)}%, KL ${fmt(p.y, 4)}, ppl ${fmt(p.perplexity, 2)} (${fmt(p.ppl_change_pct, 1)}%), top-1 ${fmt(p.top1, 3)}`;
              },
            },
          },
        },
      },
    });
  }

  function throughput(canvas) {
    const block = data.throughput[Number(canvas.dataset.index || 0)];
    if (!block) return;
    const datasets = block.series.map((s, i) => ({
      type: "line",
      label: s.label,
      data: s.points.filter((p) => p[1] !== null).map(([x, y]) => ({ x, y })),
      borderColor: color(i),
      backgroundColor: color(i),
      borderWidth: s.baseline ? 3 : 1.5,
      borderDash: s.baseline ? [] : [6, 3],
      pointRadius: 3,
    }));
    const marks = block.crossovers.filter((c) => c.y !== null);
    if (marks.length) {
      datasets.push({
        type: "scatter",
        label: "crossover",
        data: marks.map((c) => ({ x: c.batch, y: c.y, name: c.label, between: c.between })),
        pointStyle: "crossRot",
        pointRadius: 10,
        borderWidth: 3,
        borderColor: "#000",
        backgroundColor: "#000",
      });
    }
    draw(canvas, {
      type: "line",
      data: { datasets },
      options: {
        parsing: false,
        scales: {
          x: axis("batch size", { type: "logarithmic", ticks: { callback: (v) => (Math.log2(v) % 1 === 0 ? v : "") } }),
          y: axis("decode tokens/s", { beginAtZero: true }),
        },
        plugins: {
          tooltip: {
            callbacks: {
              label(ctx) {
                const raw = ctx.raw;
                if (raw.name) return `${raw.name} crosses ${data.baseline} near batch ${raw.x} (between ${raw.between[0]} and ${raw.between[1]})`;
                return `${ctx.dataset.label}: ${fmt(raw.y, 2)} tok/s at batch ${raw.x}`;
              },
            },
          },
        },
      },
    });
  }

  // --- llm-serving ---------------------------------------------------------------------------

  const levelTitle = () => (data.mode === "rate" ? "request rate (req/s)" : "concurrent requests");

  function latency(canvas) {
    const datasets = [];
    data.servers.forEach((s, i) => {
      [["ttft", "TTFT"], ["e2e", "E2E"]].forEach(([key, name], k) => {
        ["p50", "p99"].forEach((q) => {
          datasets.push({
            label: `${s.server} ${name} ${q}`,
            data: s.latency[`${key}_${q}`],
            borderColor: color(i * 2 + k),
            backgroundColor: color(i * 2 + k),
            borderDash: q === "p99" ? [6, 3] : [],
            pointRadius: 3,
            spanGaps: true,
          });
        });
      });
    });
    draw(canvas, {
      type: "line",
      data: { labels: data.levels, datasets },
      options: { scales: { x: axis(levelTitle()), y: axis("latency (ms)", { beginAtZero: true }) } },
    });
  }

  function throughputLoad(canvas) {
    draw(canvas, {
      type: "line",
      data: {
        labels: data.levels,
        datasets: data.servers.map((s, i) => ({
          label: `${s.server} output tok/s`,
          data: s.output_tok_s,
          borderColor: color(i),
          backgroundColor: color(i),
          pointRadius: 3,
          spanGaps: true,
        })),
      },
      options: { scales: { x: axis(levelTitle()), y: axis("output tokens/s", { beginAtZero: true }) } },
    });
  }

  function curve(canvas) {
    draw(canvas, {
      type: "line",
      data: {
        datasets: data.servers.map((s, i) => ({
          label: s.server,
          data: s.curve.filter((p) => p.x !== null && p.y !== null),
          borderColor: color(i),
          backgroundColor: color(i),
          pointRadius: 4,
        })),
      },
      options: {
        parsing: false,
        scales: {
          x: axis("output tokens/s", { type: "linear", beginAtZero: true }),
          y: axis("E2E latency p50 (ms)", { beginAtZero: true }),
        },
        plugins: {
          tooltip: {
            callbacks: {
              label: (ctx) => `${ctx.dataset.label} @ ${ctx.raw.level}: ${fmt(ctx.raw.x, 1)} tok/s, ${fmt(ctx.raw.y, 0)} ms`,
            },
          },
        },
      },
    });
  }

  const DRAW = {
    "memory-quality": memoryQuality,
    throughput: throughput,
    latency: latency,
    "throughput-load": throughputLoad,
    curve: curve,
  };
  Object.entries(DRAW).forEach(([name, fn]) => canvases(name).forEach(fn));
})();
