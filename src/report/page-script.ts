/**
 * The page's own script (runs in the browser after the inlined Chart.js): draws each image's
 * boot phase and size charts from the JSON in `#report-chart-data`. Each phase has a fill
 * pattern as well as a colour and the legend names it, so the chart reads without colour;
 * the tables beside the charts hold the same values as text.
 */
export const pageScript = `
(function () {
  'use strict';
  var source = document.getElementById('report-chart-data');
  if (!source || typeof Chart === 'undefined') return;
  var charts = JSON.parse(source.textContent || '[]');
  var ink = '#1f2933';
  var fills = ['#9ecae1', '#fdd0a2', '#c7e9c0', '#dadaeb', '#fcbba1'];
  var marks = ['solid', 'diagonal', 'dots', 'cross', 'horizontal'];
  function pattern(index) {
    var size = 10;
    var canvas = document.createElement('canvas');
    canvas.width = size;
    canvas.height = size;
    var c = canvas.getContext('2d');
    c.fillStyle = fills[index % fills.length];
    c.fillRect(0, 0, size, size);
    c.strokeStyle = ink;
    c.fillStyle = ink;
    c.lineWidth = 1.2;
    var mark = marks[index % marks.length];
    c.beginPath();
    if (mark === 'diagonal') { c.moveTo(0, size); c.lineTo(size, 0); }
    if (mark === 'cross') { c.moveTo(0, 0); c.lineTo(size, size); c.moveTo(0, size); c.lineTo(size, 0); }
    if (mark === 'horizontal') { c.moveTo(0, size / 2); c.lineTo(size, size / 2); }
    c.stroke();
    if (mark === 'dots') { c.beginPath(); c.arc(size / 2, size / 2, 1.6, 0, Math.PI * 2); c.fill(); }
    return c.createPattern(canvas, 'repeat');
  }
  Chart.defaults.color = ink;
  Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
  Chart.defaults.animation = false;
  charts.forEach(function (chart) {
    var phases = document.getElementById('phases-' + chart.index);
    if (phases) {
      new Chart(phases, {
        type: 'bar',
        data: {
          labels: chart.labels,
          datasets: chart.phases.map(function (p, i) {
            return { label: p.phase, data: p.seconds, backgroundColor: pattern(i), borderColor: ink, borderWidth: 1 };
          })
        },
        options: {
          indexAxis: 'y',
          responsive: true,
          maintainAspectRatio: false,
          scales: {
            x: { stacked: true, beginAtZero: true, title: { display: true, text: 'seconds from QEMU start' } },
            y: { stacked: true }
          },
          plugins: {
            legend: { position: 'bottom', labels: { boxWidth: 18, boxHeight: 14 } },
            tooltip: { callbacks: { label: function (item) { return item.dataset.label + ': ' + item.parsed.x + ' s'; } } }
          }
        }
      });
    }
    var size = document.getElementById('size-' + chart.index);
    if (size) {
      new Chart(size, {
        type: 'bar',
        data: {
          labels: chart.labels,
          datasets: [{ label: 'artifacts (' + chart.sizeUnit + ')', data: chart.sizes, backgroundColor: pattern(1), borderColor: ink, borderWidth: 1 }]
        },
        options: {
          indexAxis: 'y',
          responsive: true,
          maintainAspectRatio: false,
          scales: { x: { beginAtZero: true, title: { display: true, text: chart.sizeUnit } } },
          plugins: {
            legend: { display: false },
            tooltip: {
              callbacks: {
                label: function (item) {
                  var packages = chart.packages[item.dataIndex];
                  return item.parsed.x + ' ' + chart.sizeUnit + (packages === null ? '' : ', ' + packages + ' packages');
                }
              }
            }
          }
        }
      });
    }
  });
})();
`;
