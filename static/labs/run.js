// The run page: follows the run's socket from the last event the server rendered.
(function () {
  "use strict";
  const stream = window.portalJSON("run-stream");
  if (!stream || !window.LabCharts) return;
  const $ = (id) => document.getElementById(id);
  const FINISHED = ["succeeded", "failed", "cancelled", "lost"];
  // badge classes by status, from RunStatus.badge on the server
  const BADGE = stream.badges || {};
  const state = { lastSeq: stream.last_seq, status: stream.status, received: 0 };
  const charts = window.LabCharts($("run-charts"));
  window.labsRun = { state, charts };

  function showCharts() {
    const empty = $("run-charts-empty");
    if (empty) empty.remove();
  }
  Object.entries(stream.metrics).forEach(([name, points]) => {
    showCharts();
    charts.add(name, name, 0, points);
  });

  const log = $("run-log");
  function appendLog(text) {
    if (log.hasAttribute("data-paged")) return; // an older page of the log: new lines are not its
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.append(text + "\n");
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  function renderTable(name, rows) {
    const holder = $("run-tables");
    holder.querySelectorAll("[data-empty]").forEach((e) => e.remove());
    let box = Array.from(holder.querySelectorAll(".run-table")).find((b) => b.dataset.name === name);
    if (!box) {
      box = document.createElement("div");
      box.className = "run-table";
      box.dataset.name = name;
      holder.append(box);
    }
    const h = document.createElement("h3");
    h.textContent = name;
    const table = document.createElement("table");
    table.className = "table";
    const keys = rows.length ? Object.keys(rows[0]) : [];
    const head = table.createTHead().insertRow();
    keys.forEach((k) => { const th = document.createElement("th"); th.textContent = k; head.append(th); });
    const body = table.createTBody();
    rows.forEach((row) => {
      const tr = body.insertRow();
      keys.forEach((k) => { tr.insertCell().textContent = row[k] === undefined ? "" : String(row[k]); });
    });
    box.replaceChildren(h, table);
  }

  function setStatus(snap) {
    state.status = snap.status;
    const badge = $("run-status");
    badge.textContent = stream.statuses[snap.status] || snap.status;
    badge.dataset.status = snap.status;
    badge.className = "badge " + (BADGE[snap.status] || "");
    if (snap.status !== "queued") $("run-waiting").hidden = true;
    if (snap.worker) {
      const d = snap.device || {};
      const cpu = d.device_key === "cpu:0" ? null : d.cpu;
      $("run-device").textContent = [snap.worker, d.torch_device, d.device_key, d.device_name, cpu]
        .filter(Boolean)
        .join(" · ");
    }
    if (snap.error) {
      $("run-error").hidden = false;
      $("run-error-text").textContent = snap.error;
    }
    if (FINISHED.includes(snap.status)) {
      const form = $("run-cancel-form");
      if (form) form.remove();
      if (snap.status === "succeeded") setProgress(1, "");
    }
  }

  function setProgress(fraction, note) {
    $("run-progress").style.width = (fraction * 100).toFixed(1) + "%";
    if (note !== undefined) $("run-progress-note").textContent = note;
  }

  function addArtifact(a) {
    const list = $("run-artifacts");
    list.querySelectorAll("[data-empty]").forEach((e) => e.remove());
    const li = document.createElement("li");
    const link = document.createElement("a");
    link.href = stream.artifact_url.replace("NAME", encodeURIComponent(a.name));
    link.textContent = a.name;
    li.append(link, " (" + a.size + " B)");
    list.append(li);
  }

  function apply(event) {
    const d = event.data;
    switch (event.kind) {
      case "log": appendLog(d.text); break;
      case "progress": setProgress(d.fraction, d.note); break;
      case "metric": showCharts(); charts.add(d.name, d.name, 0, [[d.step, d.value]]); break;
      case "table": renderTable(d.name, d.rows); break;
      case "artifact": addArtifact(d); break;
      case "status": setStatus(d); break;
      case "result": $("run-result").textContent = JSON.stringify(d, null, 2); break;
    }
  }

  function connect(delay) {
    const proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${window.location.host}${stream.socket}?after=${state.lastSeq}`);
    ws.onmessage = (msg) => {
      const body = JSON.parse(msg.data);
      if (body.type !== "events") return;
      body.events.forEach((event) => {
        if (event.seq <= state.lastSeq) return; // already shown
        state.lastSeq = event.seq;
        state.received += 1;
        apply(event);
      });
    };
    ws.onclose = () => {
      if (FINISHED.includes(state.status)) return;
      // resume where we stopped: the server replays everything after lastSeq
      window.setTimeout(() => connect(Math.min(delay * 2, 10000)), delay);
    };
  }
  connect(500);
})();
