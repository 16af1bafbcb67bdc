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
  /* Numbers as the page's locale writes them (<html data-locale data-currency>, the same locale the
     server formats its tables with): "25 000 kr" / "NOK 25,000" on axes, two decimals in tooltips. */
  var root = document.documentElement;
  var LOCALE = root.dataset.locale || "en";
  var CURRENCY = root.dataset.currency || "NOK";
  var formats = {};
  function formatter(kind, digits) {
    var key = kind + digits;
    if (!formats[key]) {
      var opts = { minimumFractionDigits: digits, maximumFractionDigits: digits };
      if (kind === "money") { opts.style = "currency"; opts.currency = CURRENCY; }
      formats[key] = new Intl.NumberFormat(LOCALE, opts);
    }
    return formats[key];
  }
  function formatValue(kind, v, digits) {
    if (v === null || v === undefined || isNaN(v)) return "–";
    var text = formatter(kind, digits).format(Number(v));
    return kind === "ratio" ? text + "\u00d7" : text;
  }
  window.poasFormat = formatValue;
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
    var kind = cfg.valueFormat || "money";  /* "money" (the shop's currency) or "ratio" (ROAS, POAS) */
    var valueAxis = cfg.options.indexAxis === "y" ? "x" : "y";
    cfg.options.scales = cfg.options.scales || {};
    cfg.options.scales[valueAxis] = cfg.options.scales[valueAxis] || {};
    cfg.options.scales[valueAxis].ticks = Object.assign({}, cfg.options.scales[valueAxis].ticks, {
      callback: function (value) { return formatValue(kind, value, kind === "ratio" ? 1 : 0); }
    });
    cfg.options.locale = LOCALE;
    cfg.options.plugins.tooltip = {
      callbacks: {
        label: function (ctx) {
          var v = ctx.raw;
          if (Array.isArray(v)) v = v[1] - v[0];
          return (ctx.dataset.label ? ctx.dataset.label + ": " : "") + formatValue(kind, v, 2);
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
