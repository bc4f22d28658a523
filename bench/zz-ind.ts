import { SqliteStore } from '../src/store/sqlite/store.ts';
import { ManualClock } from '../src/util/clock.ts';
import { IndicatorService } from '../src/indicators/service.ts';
import { defaultIndicatorsConfig } from '../src/indicators/thresholds.ts';
const clock = new ManualClock(Date.now());
const store = new SqliteStore(':memory:', clock);
const N = 5000;
store.probes.sync(Array.from({ length: N }, (_, i) => ({ name: `ok-${i}`, kind: 'http', tags: [] })));
let n = 0;
for (let r = 0; r < 5; r++) {
  store.runs.recordAll(Array.from({ length: N }, (_, i) => ({ uid: `u${n++}`, probe: `ok-${i}`, kind: 'http', startedAt: clock.now(), durationMs: 5, status: 'pass', attempts: 1, message: 'HTTP 200', error: null, observations: { url: `http://127.0.0.1:1/ok`, 'endpoint.role': 'other', latency: 3, status: 200, 'header.content-type': 'application/json', body: '{"status":"ready"}' }, assertions: [], phases: {}, items: [] })) as never);
  clock.advance(60_000);
}
const svc = new IndicatorService({ store, clock, config: defaultIndicatorsConfig(), cacheMs: 0 });
for (let k = 0; k < 3; k++) { const t = performance.now(); svc.current(); console.log('indicators ms', (performance.now() - t).toFixed(1)); }
