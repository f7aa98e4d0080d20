/* meterbase dashboard: progressive enhancement over server-rendered pages (no build step).
 * Draws every <canvas data-chart="ID"> from the JSON in <script id="ID">, and on the meter page
 * re-queries /ui/api/meters/{id}/usage when a picker changes. Needs Chart.js (static/vendor). */
(function () {
  "use strict";
  var PALETTE = ["#4f46e5", "#0891b2", "#16a34a", "#ea580c", "#db2777", "#7c3aed", "#ca8a04", "#475569"];
  var charts = {};

  function fmtNum(s) {
    if (s === null || s === undefined || s === "") return "\u2013";
    s = String(s);
    var neg = s.charAt(0) === "-";
    var parts = s.replace(/^-/, "").split(".");
    var whole = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (neg ? "-" : "") + whole + (parts[1] ? "." + parts[1] : "");
  }

  // quantities in their meter's unit, as the server's formatting.py shows them (bytes, durations)
  var SECONDS = { ms: 0.001, millisecond: 0.001, milliseconds: 0.001, s: 1, sec: 1, secs: 1, second: 1, seconds: 1,
                  min: 60, mins: 60, minute: 60, minutes: 60, h: 3600, hr: 3600, hrs: 3600, hour: 3600, hours: 3600 };
  function trim(n) { return String(Number(n.toFixed(2))); }
  function fmtQty(s, unit) {
    if (s === null || s === undefined || s === "") return "\u2013";
    var u = (unit || "").toLowerCase(), v = Number(s);
    if (u === "b" || u === "byte" || u === "bytes") {
      var steps = [["TB", 1e12], ["GB", 1e9], ["MB", 1e6], ["KB", 1e3]];
      for (var i = 0; i < steps.length; i++) if (Math.abs(v) >= steps[i][1]) return trim(v / steps[i][1]) + " " + steps[i][0];
      return fmtNum(s) + " B";
    }
    if (SECONDS[u]) {
      var sec = v * SECONDS[u];
      if (sec > 0 && sec < 1) return trim(sec * 1000) + " ms";
      var h = Math.floor(sec / 3600), m = Math.floor((sec % 3600) / 60), r = trim(sec % 60);
      if (h) return h.toLocaleString("en-US") + " h " + (m < 10 ? "0" : "") + m + " min";
      if (m) return m + " min" + (Number(r) ? " " + r + " s" : "");
      return r + " s";
    }
    return fmtNum(s);
  }
  function dimension(unit) { var u = (unit || "").toLowerCase(); return u === "b" || u === "byte" || u === "bytes" || !!SECONDS[u]; }

  function fmtTime(iso) { return iso ? iso.slice(0, 16).replace("T", " ") + " UTC" : "\u2013"; }

  function labelFormatter(window, tz) {
    var opts = { timeZone: tz || "UTC", hourCycle: "h23" };
    if (window === "month") { opts.year = "numeric"; opts.month = "short"; }
    else if (window === "day") { opts.month = "short"; opts.day = "numeric"; }
    else { opts.month = "short"; opts.day = "numeric"; opts.hour = "2-digit"; opts.minute = "2-digit"; }
    var f;
    try { f = new Intl.DateTimeFormat("en-GB", opts); } catch (e) { opts.timeZone = "UTC"; f = new Intl.DateTimeFormat("en-GB", opts); }
    return function (iso) { return f.format(new Date(iso)); };
  }

  function guessWindow(labels) {
    if (labels.length < 2) return "day";
    var step = Date.parse(labels[1]) - Date.parse(labels[0]);
    if (step <= 60e3) return "minute";
    if (step <= 3600e3) return "hour";
    if (step <= 86400e3 * 1.5) return "day";
    return "month";
  }

  function draw(canvas, data) {
    if (typeof Chart === "undefined") { canvas.parentNode.classList.add("nochart"); return; }
    var unit = canvas.dataset.unit || "";
    var compact = canvas.dataset.compact === "1";
    var fmt = labelFormatter(canvas.dataset.window || guessWindow(data.labels), canvas.dataset.tz);
    var kind = canvas.dataset.kind || "line";
    var datasets = data.series.map(function (s, i) {
      var c = PALETTE[i % PALETTE.length];
      return {
        label: s.label, raw: s.values,
        data: s.values.map(function (v) { return v === null ? null : Number(v); }),
        borderColor: c, backgroundColor: kind === "bar" ? c + "cc" : c + "22", fill: kind !== "bar" && data.series.length === 1,
        borderWidth: kind === "bar" ? 0 : 2, pointRadius: data.labels.length > 60 || compact ? 0 : 2, tension: 0.2,
        stack: kind === "bar" ? "s" : undefined,
      };
    });
    var config = {
      type: kind,
      data: { labels: data.labels.map(fmt), datasets: datasets },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false, normalized: true,
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { display: datasets.length > 1 && !compact, position: "bottom" },
          tooltip: { callbacks: { label: function (ctx) {
            var raw = ctx.dataset.raw[ctx.dataIndex];
            if (canvas.dataset.currency && raw !== null) {  // money: the currency's own digits
              try { return ctx.dataset.label + ": " + new Intl.NumberFormat("en-US", { style: "currency", currency: canvas.dataset.currency }).format(Number(raw)); } catch (e) { /* unknown code */ }
            }
            return ctx.dataset.label + ": " + (dimension(unit) ? fmtQty(raw, unit) : fmtNum(raw) + " " + unit);
          } } },
        },
        scales: {
          x: { stacked: kind === "bar", grid: { display: false }, ticks: { maxTicksLimit: compact ? 3 : 12, maxRotation: 0, autoSkip: true } },
          y: { stacked: kind === "bar", beginAtZero: true, ticks: { maxTicksLimit: compact ? 3 : 8,
               callback: dimension(unit) ? function (v) { return fmtQty(String(v), unit); } : undefined } },
        },
      },
    };
    var old = Chart.getChart(canvas);
    if (old) old.destroy();
    charts[canvas.id] = new Chart(canvas, config);
    canvas.dataset.points = String(data.labels.length);
    canvas.dataset.renders = String(Number(canvas.dataset.renders || 0) + 1);
  }

  function readJSON(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function drawAll() {
    document.querySelectorAll("canvas[data-chart]").forEach(function (c) {
      var data = readJSON(c.dataset.chart);
      if (data && data.daily && data.hourly) { c._variants = data; data = data.daily; c.dataset.window = "day"; }
      if (data) draw(c, data);
    });
  }

  // -- overview: daily / hourly volume ---------------------------------------------------------
  function volumeSwitch() {
    var box = document.querySelector("[data-volume-switch]");
    var canvas = document.getElementById("volume-chart");
    if (!box || !canvas || !canvas._variants) return;
    box.addEventListener("click", function (e) {
      var b = e.target.closest("button[data-volume]");
      if (!b) return;
      box.querySelectorAll("button").forEach(function (x) { x.classList.toggle("on", x === b); });
      canvas.dataset.window = b.dataset.volume === "hourly" ? "hour" : "day";
      draw(canvas, canvas._variants[b.dataset.volume]);
    });
  }

  // -- meter page: pickers re-query the usage endpoint ------------------------------------------
  var MAX_RANGE = { minute: ["1h", "24h"], hour: ["1h", "24h", "7d", "30d", "90d"] };
  var DEFAULT_RANGE = { minute: "1h", hour: "7d", day: "30d", month: "90d" };

  function cell(tr, text, cls) {
    var td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function renderBreakdown(doc) {
    var table = document.getElementById("breakdown");
    var tbody = table.querySelector("tbody");
    var grouped = doc.group_by && doc.group_by.length > 0;
    table.querySelector("th[data-col=group]").hidden = !grouped;
    tbody.textContent = "";
    doc.data.forEach(function (row) {
      var tr = document.createElement("tr");
      tr.dataset.customer = row.customer_id;
      var td = document.createElement("td");
      var a = document.createElement("a");
      a.href = "/ui/customers/" + encodeURIComponent(row.customer_id);
      a.textContent = row.customer_id;
      td.appendChild(a);
      tr.appendChild(td);
      var g = cell(tr, row.group ? Object.keys(row.group).map(function (k) {
        return k + "=" + (row.group[k] === null ? "(missing)" : row.group[k]);
      }).join(", ") : "");
      g.hidden = !grouped;
      var unit = (readJSON("usage-meta") || {}).unit;
      cell(tr, dimension(unit) ? fmtQty(row.value, unit) : fmtNum(row.value), "num").dataset.value = row.value === null ? "" : row.value;
      cell(tr, fmtNum(String(row.events)), "num");
      cell(tr, fmtNum(String(row.rejected)), row.rejected ? "num opt warn" : "num opt");
      tbody.appendChild(tr);
    });
    document.getElementById("breakdown-empty").hidden = doc.data.length > 0;
  }

  function meterPage() {
    var form = document.getElementById("usage-form");
    var canvas = document.getElementById("usage-chart");
    if (!form || !canvas) return;
    var status = document.getElementById("usage-status");
    var error = document.getElementById("usage-error");
    var caption = document.getElementById("usage-caption");
    var meta = readJSON("usage-meta") || {};
    var seq = 0;

    function refresh() {
      var params = new URLSearchParams(new FormData(form));
      ["customer_id", "group_by"].forEach(function (k) { if (!params.get(k)) params.delete(k); });
      var mine = ++seq;
      status.textContent = "Loading\u2026";
      form.setAttribute("aria-busy", "true");
      fetch(form.dataset.api + "?" + params.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, status: r.status, body: body }; }); })
        .then(function (res) {
          if (mine !== seq) return;  // a newer request is on its way
          form.removeAttribute("aria-busy");
          if (res.status === 401) { window.location = "/ui/login?next=" + encodeURIComponent(location.pathname + location.search); return; }
          if (!res.ok) { error.textContent = res.body.message || "Request failed"; error.hidden = false; status.textContent = ""; return; }
          var doc = res.body;
          error.hidden = true;
          canvas.dataset.window = doc.window;
          canvas.dataset.from = doc.from;
          canvas.dataset.to = doc.to;
          canvas.dataset.tz = doc.tz;
          draw(canvas, doc.chart);
          renderBreakdown(doc);
          var combined = document.getElementById("usage-combined");
          if (combined) combined.textContent = doc.chart.combined ? "\u00b7 all customers: " + doc.chart.combined : "";
          caption.textContent = meta.aggregation + " per " + doc.window + " \u00b7 " + fmtTime(doc.from) + " \u2192 " + fmtTime(doc.to) + " (" + doc.tz + ")";
          status.textContent = doc.chart.labels.length + " points";
          history.replaceState(null, "", form.getAttribute("action") + "?" + params.toString());
        })
        .catch(function (e) {
          if (mine !== seq) return;
          form.removeAttribute("aria-busy");
          error.textContent = "Could not load usage: " + e; error.hidden = false; status.textContent = "";
        });
    }

    form.addEventListener("change", function (e) {
      var win = form.elements.window.value;
      var range = form.elements.range;
      if (e.target === form.elements.window && MAX_RANGE[win] && MAX_RANGE[win].indexOf(range.value) < 0) {
        range.value = DEFAULT_RANGE[win];  // keep the point count drawable
      }
      if (e.target === range || e.target === form.elements.window) {
        form.querySelectorAll("input.custom-range").forEach(function (x) { if (range.value !== "custom") x.remove(); });
      }
      refresh();
    });
    form.addEventListener("submit", function (e) { e.preventDefault(); refresh(); });
  }

  // filter forms: leave empty fields out of the URL (they would be ignored anyway)
  function tidyForms() {
    document.querySelectorAll("form.filters").forEach(function (form) {
      form.addEventListener("submit", function () {
        Array.prototype.forEach.call(form.elements, function (el) {
          if (el.name && !el.disabled && el.value === "" && el.type !== "submit") el.disabled = true;
        });
      });
    });
  }

  function init() {
    tidyForms();
    drawAll();
    volumeSwitch();
    meterPage();
    document.documentElement.dataset.ready = "1";
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
