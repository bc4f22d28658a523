import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLabApp, type LabApp } from '../../src/lab/http-app.ts';
import { createScaiSendStandIn } from '../../src/lab/scaisend.ts';
import { createSendCounters, mountSendStats } from '../../src/lab/mail-send.ts';
import { prometheusKind } from '../../src/probers/prometheus.ts';
import { statsKind } from '../../src/probers/stats.ts';
import { ProbeFailure } from '../../src/core/errors.ts';
import { makeProber, probeOnce, specFor } from '../helpers/probe-run.ts';

/** An exporter page of 26 series, 10 each: `jobs_total` is 260 when the page is read whole. */
const QUEUES = 'abcdefghijklmnopqrstuvwxyz'.split('');
const PAGE = `# TYPE jobs_total counter\n${QUEUES.map((queue) => `jobs_total{queue="${queue}"} 10\n`).join('')}`;
/** Where the last series' line starts: a cut there leaves a page that parses, 10 short. */
const LAST_LINE = PAGE.lastIndexOf('jobs_total{queue="z"}');

const rejectsWith = (pattern: RegExp) => (error: unknown) =>
  error instanceof ProbeFailure && error.code === 'PROTOCOL' && pattern.test(error.message);

describe('bodies bigger than maxBodyBytes fail the run instead of giving values', () => {
  let exporter: LabApp;
  let scaisend: LabApp;
  let exporterUrl: string;
  let scaisendUrl: string;

  before(async () => {
    exporter = createLabApp('exporter');
    exporter.route('GET', '/metrics', (_request, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(PAGE);
    });
    exporterUrl = (await exporter.listen(0)).url;
    scaisend = createScaiSendStandIn();
    mountSendStats(scaisend, createSendCounters());
    scaisendUrl = (await scaisend.listen(0)).url;
  });
  after(async () => {
    await exporter?.close();
    await scaisend?.close();
  });

  test('prometheus: a page cut at a line boundary (once read as jobs_total = 250) fails, naming the limit', async () => {
    const cut = makeProber(
      prometheusKind,
      specFor(prometheusKind, { url: `${exporterUrl}/metrics`, maxBodyBytes: LAST_LINE }, ['jobs_total == 260']),
    );
    await assert.rejects(
      probeOnce(cut),
      rejectsWith(new RegExp(`/metrics: body exceeds maxBodyBytes \\(${LAST_LINE}\\)$`)),
    );
    const whole = makeProber(
      prometheusKind,
      specFor(prometheusKind, { url: `${exporterUrl}/metrics`, maxBodyBytes: Buffer.byteLength(PAGE) }, [
        'jobs_total == 260',
      ]),
    );
    assert.equal((await probeOnce(whole)).observations.jobs_total, 260);
  });

  test('prometheus: maxBodyBytes defaults to 1 MiB and is validated', () => {
    assert.equal(specFor(prometheusKind, { url: `${exporterUrl}/metrics` }).maxBodyBytes, 1024 * 1024);
    assert.throws(() => specFor(prometheusKind, { url: `${exporterUrl}/metrics`, maxBodyBytes: 65 * 1024 * 1024 }));
  });

  test('stats: an answer bigger than maxBodyBytes fails with the limit, not "did not answer JSON"', async () => {
    const prober = makeProber(
      statsKind,
      specFor(statsKind, { api: scaisendUrl, apiKey: 'SG.lab-tenant-a.key', maxBodyBytes: 16 }),
    );
    await assert.rejects(probeOnce(prober), rejectsWith(/\/v3\/stats(\/sum)?\?.*: body exceeds maxBodyBytes \(16\)$/));
    const roomy = makeProber(statsKind, specFor(statsKind, { api: scaisendUrl, apiKey: 'SG.lab-tenant-a.key' }));
    assert.equal((await probeOnce(roomy)).observations.requests, 0);
  });
});
