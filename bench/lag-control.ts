/**
 * A control for event-loop lag figures: an idle Node process measuring its own
 * event-loop delay the way prom-client does (monitorEventLoopDelay, 10 ms
 * resolution, so an idle loop reads about 10 ms), printing the p99 of each
 * window. Run beside a benchmark at the same priority, it shows how much of a
 * measured lag is the machine's (other processes, CPU steal) rather than the
 * measured process's.
 *
 *   node --import tsx bench/lag-control.ts [--duration 1h] [--sample 10s]
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { parseDuration } from '../src/core/duration.ts';

const { values } = parseArgs({
  options: { duration: { type: 'string', default: '1h' }, sample: { type: 'string', default: '10s' } },
});
const duration = parseDuration(values.duration ?? '1h') ?? 3_600_000;
const sample = parseDuration(values.sample ?? '10s') ?? 10_000;
const histogram = monitorEventLoopDelay({ resolution: 10 });
histogram.enable();
const windows: number[] = [];
const started = performance.now();
const timer = setInterval(() => {
  const p99 = histogram.percentile(99) / 1e6;
  histogram.reset();
  windows.push(p99);
  console.log(`${Math.round((performance.now() - started) / 1000)}s idle-process lag p99 ${p99.toFixed(1)} ms`);
  if (performance.now() - started < duration) return;
  clearInterval(timer);
  const sorted = windows.slice().sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  console.log(
    `idle-process lag p99 per window: median ${at(0.5).toFixed(1)} ms, worst ${at(1).toFixed(1)} ms, windows under 50 ms ${sorted.filter((v) => v < 50).length}/${sorted.length}`,
  );
}, sample);
