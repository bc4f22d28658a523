// The browser script that draws a report's charts with chart.js.
/**
 * Browser script that draws the report's charts with chart.js. Colours also
 * differ in line style so the charts read in black-and-white print.
 * Sets window.__reportReady when done (the PDF renderer waits for it).
 */
export const CHARTS_SCRIPT = `
(function () {
  var data = JSON.parse(document.getElementById('report-data').textContent);
  Chart.defaults.animation = false;
  Chart.defaults.responsive = false;
  Chart.defaults.devicePixelRatio = 2;
  Chart.defaults.font.size = 11;
  function draw(id, config) { var el = document.getElementById(id); if (el) new Chart(el, config); }
  if (data.placement) draw('chart-placement', { type: 'bar', data: { labels: data.placement.labels, datasets: [
      { label: 'Inbox', data: data.placement.inbox, backgroundColor: '#2da44e' },
      { label: 'Spam', data: data.placement.spam, backgroundColor: '#cf222e' },
      { label: 'Other folder', data: data.placement.other, backgroundColor: '#bf8700' },
      { label: 'Missing', data: data.placement.missing, backgroundColor: '#6e7781' } ] },
    options: { plugins: { title: { display: true, text: 'Probe messages by placement' } }, scales: { x: { stacked: true }, y: { stacked: true, ticks: { precision: 0 }, title: { display: true, text: 'messages' } } } } });
  if (data.tti) draw('chart-tti', { type: 'line', data: { labels: data.tti.labels, datasets: [
      { label: 'p50', data: data.tti.p50, borderColor: '#0969da', backgroundColor: '#0969da', pointRadius: 1.5, spanGaps: true },
      { label: 'p95', data: data.tti.p95, borderColor: '#8250df', backgroundColor: '#8250df', borderDash: [6, 3], pointRadius: 1.5, spanGaps: true } ] },
    options: { plugins: { title: { display: true, text: 'Time to inbox (seconds)' } }, scales: { y: { beginAtZero: true, title: { display: true, text: 'seconds' } } } } });
  if (data.rates) {
    var limit = function (v) { return data.rates.labels.map(function () { return v; }); };
    draw('chart-rates', { type: 'line', data: { labels: data.rates.labels, datasets: [
      { label: 'Bounce rate %', data: data.rates.bounce, borderColor: '#cf222e', pointRadius: 1.5, spanGaps: true },
      { label: 'Bounce limit 2 %', data: limit(2), borderColor: '#cf222e', borderDash: [4, 4], pointRadius: 0 },
      { label: 'Spam-report rate %', data: data.rates.spam, borderColor: '#8250df', pointRadius: 1.5, spanGaps: true },
      { label: 'Spam-report limit 0.1 %', data: limit(0.1), borderColor: '#8250df', borderDash: [2, 3], pointRadius: 0 } ] },
      options: { plugins: { title: { display: true, text: 'Rates against their limits (%)' } }, scales: { y: { beginAtZero: true } } } });
  }
  window.__reportReady = true;
})();
`;
