/* poas dashboard charts: each <canvas data-chart="ID"> reads its config from <script id="ID-data">.
   Numbers arrive as decimal strings (the server never uses floats); they become JS numbers here,
   for drawing only. The same numbers are in the HTML table next to every chart. */
(function () {
  "use strict";
  function num(v) {
    if (Array.isArray(v)) return v.map(num);
    if (v === null || v === "") return null;
    return Number(v);
  }
  function money(v) {
    return Number(v).toLocaleString("en-GB", { minimumFractionDigits: 0, maximumFractionDigits: 2 }).replace(/,/g, "\u202f");
  }
  function build(canvas) {
    var src = document.getElementById(canvas.dataset.chart + "-data");
    if (!src || typeof Chart === "undefined") return;
    var cfg = JSON.parse(src.textContent);
    cfg.data.datasets.forEach(function (ds) { ds.data = ds.data.map(num); });
    cfg.options = cfg.options || {};
    cfg.options.responsive = true;
    cfg.options.maintainAspectRatio = false;
    cfg.options.animation = false;
    cfg.options.plugins = cfg.options.plugins || {};
    cfg.options.plugins.tooltip = {
      callbacks: {
        label: function (ctx) {
          var v = ctx.raw;
          if (Array.isArray(v)) v = v[1] - v[0];
          return (ctx.dataset.label ? ctx.dataset.label + ": " : "") + money(v);
        }
      }
    };
    if (cfg.breakEven !== undefined) {
      var be = Number(cfg.breakEven);
      cfg.plugins = [{
        id: "breakEven",
        afterDraw: function (chart) {
          var axis = chart.scales[cfg.breakEvenAxis || "y"];
          if (!axis) return;
          var ctx = chart.ctx, area = chart.chartArea;
          ctx.save();
          ctx.strokeStyle = "#b42318"; ctx.setLineDash([6, 4]); ctx.lineWidth = 1.5;
          ctx.beginPath();
          if (axis.isHorizontal()) {
            var x = axis.getPixelForValue(be);
            ctx.moveTo(x, area.top); ctx.lineTo(x, area.bottom);
          } else {
            var y = axis.getPixelForValue(be);
            ctx.moveTo(area.left, y); ctx.lineTo(area.right, y);
          }
          ctx.stroke();
          ctx.fillStyle = "#b42318"; ctx.font = "12px system-ui";
          if (axis.isHorizontal()) {
            ctx.textAlign = "left";
            ctx.fillText(cfg.breakEvenLabel || "break-even", axis.getPixelForValue(be) + 4, area.bottom - 4);
          } else {
            ctx.fillText(cfg.breakEvenLabel || "break-even", area.left + 4, axis.getPixelForValue(be) - 4);
          }
          ctx.restore();
        }
      }];
    }
    new Chart(canvas, cfg);
  }
  function init(root) {
    (root || document).querySelectorAll("canvas[data-chart]").forEach(function (c) {
      if (!Chart.getChart(c)) build(c);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSwap", function (e) { init(e.target); });
})();
