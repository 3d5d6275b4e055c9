/* "Grafisk och tabellöversikt över säljaktiviteter": the stacked bar chart drawn by Chart.js
   (static/vendor/chartjs) from the JSON in the canvas's data-chart attribute. Every activity
   kind is a dataset with its own legend entry; each bar's total is written above it, and the
   value axis leaves room for it. Narrow screens get horizontal bars, one row per seller, so the
   names stay readable. The same figures are in the table under the chart. */
(function () {
  "use strict";
  var canvas = document.querySelector("#activity-chart canvas[data-chart]");
  if (!canvas || !window.Chart) {
    return;
  }
  var data = JSON.parse(canvas.getAttribute("data-chart"));
  window.Chart.defaults.font.size = 13;
  var numbers = new Intl.NumberFormat("sv-SE");
  var narrow = window.matchMedia("(max-width: 575.98px)").matches;
  var box = canvas.parentNode;
  box.style.height = narrow ? Math.max(260, 48 * data.labels.length + 140) + "px" : "360px";

  function totals() {
    return data.labels.map(function (_label, index) {
      return data.datasets.reduce(function (sum, set) { return sum + set.data[index]; }, 0);
    });
  }

  /* Writes each bar's total at its end (above a column, right of a horizontal bar). */
  var totalLabels = {
    id: "totalLabels",
    afterDatasetsDraw: function (chart) {
      var ctx = chart.ctx;
      var sums = totals();
      var last = chart.getDatasetMeta(chart.data.datasets.length - 1);
      var valueScale = chart.scales[narrow ? "x" : "y"];
      ctx.save();
      ctx.fillStyle = "#212529";
      ctx.font = "bold 12px sans-serif";
      ctx.textAlign = narrow ? "left" : "center";
      ctx.textBaseline = narrow ? "middle" : "bottom";
      last.data.forEach(function (bar, index) {
        var end = valueScale.getPixelForValue(sums[index]);
        if (narrow) {
          ctx.fillText(numbers.format(sums[index]), end + 4, bar.y);
        } else {
          ctx.fillText(numbers.format(sums[index]), bar.x, end - 2);
        }
      });
      ctx.restore();
    }
  };

  var top = Math.max.apply(null, totals().concat([1]));
  var valueAxis = {
    stacked: true,
    beginAtZero: true,
    suggestedMax: Math.ceil(top * 1.15) || 1,
    ticks: { precision: 0, color: "#495057" }
  };
  var labelAxis = { stacked: true, ticks: { color: "#212529", autoSkip: false } };

  new window.Chart(canvas, {
    type: "bar",
    data: data,
    plugins: [totalLabels],
    options: {
      locale: "sv-SE",
      indexAxis: narrow ? "y" : "x",
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      scales: narrow ? { x: valueAxis, y: labelAxis } : { x: labelAxis, y: valueAxis },
      plugins: {
        legend: { position: "bottom", labels: { color: "#212529" } },
        tooltip: { mode: "index", intersect: false }
      }
    }
  });
  canvas.setAttribute("data-drawn", "1");
}());
