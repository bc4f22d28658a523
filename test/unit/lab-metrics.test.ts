import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMetricsSimulation } from '../../src/lab/scaidns-metrics.ts';

function count(text: string, status: string): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith('scaidns_http_requests_total{') && line.includes(`status="${status}"`))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

test('the 500 series exist as soon as errors are switched on, even before a whole error has happened', () => {
  let now = 0;
  const simulation = createMetricsSimulation(() => now);
  now += 10;
  simulation.advance({ metricsRps: 500, metrics5xxShare: 0.05 });
  const early = simulation.render();
  assert.match(early, /status="500"\} 0/, 'a scrape 10 ms after the switch already shows the series');
  now += 1000;
  simulation.advance({ metricsRps: 500, metrics5xxShare: 0.05 });
  const later = simulation.render();
  const errors = count(later, '500') - count(early, '500');
  const all = errors + count(later, '200') - count(early, '200');
  assert.ok(Math.abs(errors / all - 0.05) < 0.01, `share over the second ${errors}/${all}`);
});

test('without errors switched on there is no 500 series', () => {
  let now = 0;
  const simulation = createMetricsSimulation(() => now);
  now += 5000;
  simulation.advance({ metricsRps: 500 });
  assert.doesNotMatch(simulation.render(), /status="500"/);
});
