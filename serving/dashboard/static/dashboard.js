/* Draws the charts a dashboard page lists in #dashboard-charts with the vendored Chart.js,
   then marks the page ready (data-charts-drawn on <html>) for people's scripts and the tests.
   Kinds: "trend" (a line, its interval band, n as bars), "interval" (a point per group and
   its interval as a floating bar), "bars" (one or more series per label). */
(function () {
  "use strict";
  var BLUE = "#4c72b0", BAND = "rgba(76,114,176,0.18)", GREY = "rgba(120,120,120,0.18)";
  var PALETTE = ["#9aa9c4", "#4c72b0", "#dd8452", "#55a868"];
  var specs = JSON.parse(document.getElementById("dashboard-charts").textContent);

  function axis(title) { return { title: { display: true, text: title } }; }

  function trend(spec) {
    return {
      data: {
        labels: spec.labels,
        datasets: [
          { type: "line", label: "95% interval, low", data: spec.low, borderWidth: 0,
            pointRadius: 0, fill: false, yAxisID: "y" },
          { type: "line", label: "95% interval", data: spec.high, borderWidth: 0,
            pointRadius: 0, backgroundColor: BAND, fill: "-1", yAxisID: "y" },
          { type: "line", label: "NPS", data: spec.value, borderColor: BLUE,
            backgroundColor: BLUE, yAxisID: "y" },
          { type: "bar", label: "answers (n)", data: spec.n, backgroundColor: GREY,
            yAxisID: "n", order: 9 }  /* drawn first: behind the line and its band */
        ]
      },
      options: {
        scales: { y: axis("NPS"), n: Object.assign(axis("answers"),
          { position: "right", grid: { drawOnChartArea: false }, beginAtZero: true }) },
        plugins: { legend: { labels: { filter: function (item) {
          return item.text.indexOf(", low") < 0;  /* the band's lower edge needs no entry */
        } } } }
      }
    };
  }

  function interval(spec) {
    var ranges = spec.low.map(function (low, i) {
      return low === null || spec.high[i] === null ? null : [low, spec.high[i]];
    });
    return {
      data: {
        labels: spec.labels,
        datasets: [
          { type: "bar", label: "95% interval", data: ranges, backgroundColor: BAND,
            borderColor: BLUE, borderWidth: 1, barPercentage: 0.35 },
          { type: "line", label: spec.unit, data: spec.value, showLine: false,
            pointRadius: 5, borderColor: BLUE, backgroundColor: BLUE }
        ]
      },
      options: {
        scales: { y: axis(spec.unit) },
        plugins: { tooltip: { callbacks: { footer: function (items) {
          var n = spec.n[items[0].dataIndex];
          return n === null || n === undefined ? "" : "n = " + n;
        } } } }
      }
    };
  }

  function bars(spec) {
    return {
      data: {
        labels: spec.labels,
        datasets: spec.series.map(function (s, i) {
          return { type: "bar", label: s.label, data: s.values,
                   backgroundColor: PALETTE[(i + (spec.series.length > 1 ? 0 : 1)) % PALETTE.length] };
        })
      },
      options: { scales: { y: axis(spec.unit) } }
    };
  }

  var kinds = { trend: trend, interval: interval, bars: bars };
  var drawn = 0;
  specs.forEach(function (spec) {
    var canvas = document.getElementById(spec.id);
    if (!canvas) { return; }
    var config = kinds[spec.kind](spec);
    config.options.animation = false;  /* drawn at once: the ready mark means drawn */
    config.options.responsive = true;
    config.options.maintainAspectRatio = false;
    config.options.plugins = Object.assign({ title: { display: true, text: spec.title } },
                                           config.options.plugins || {});
    new window.Chart(canvas, config);
    drawn += 1;
  });
  document.documentElement.setAttribute("data-charts-drawn", String(drawn));
})();
