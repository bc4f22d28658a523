// JSON flattening (the http kind's json.* observations) on big bodies.
// Run: node --import tsx bench/json.bench.ts [--before-all]
//
// "before" is flattenJson as it was (Object.keys of the output per node, walking on past its
// 500-key cap, every list of scalars also copied whole), kept here for comparison; "after" is
// src/protocols/http/json-flatten.ts (stops at 500 paths; an object's keys come one at a time from
// the text). JSON.parse of the body is shown apart: the http kind does it either way. The
// 64 MiB "before" runs for minutes, so it is extrapolated from 1 MiB (linear in the items or
// keys, 500 output keys counted for each) unless --before-all.
import { flattenJson } from '../src/protocols/http/json-flatten.ts';
import type { ObservationValue, Observations } from '../src/core/probe.ts';

const MAX_JSON_KEYS = 500;
function flattenJsonBefore(value: unknown, prefix: string, out: Observations): void {
  if (Object.keys(out).length >= MAX_JSON_KEYS) return;
  if (value === null || typeof value !== 'object') {
    out[prefix] = value as ObservationValue;
    return;
  }
  if (Array.isArray(value)) {
    out[`${prefix}.length`] = value.length;
    if (value.every((item) => item === null || typeof item !== 'object'))
      out[prefix] = value.map((item) => String(item));
    value.forEach((item, index) => flattenJsonBefore(item, `${prefix}.${index}`, out));
    return;
  }
  for (const [key, child] of Object.entries(value)) flattenJsonBefore(child, `${prefix}.${key}`, out);
}

const MiB = 1024 * 1024;
const zeros = (bytes: number) =>
  `[${Array<string>(Math.floor(bytes / 2))
    .fill('0')
    .join(',')}]`;
function keyed(bytes: number): string {
  const parts: string[] = [];
  let size = 2;
  for (let i = 0; size < bytes; i++) {
    const part = `"k${i}":${i}`;
    parts.push(part);
    size += part.length + 1;
  }
  return `{"status":"ok","items":{${parts.join(',')}}}`;
}
const bodies = [
  { label: '[0,0,...]  1 MiB', text: zeros(MiB), scale: 1 },
  { label: '[0,0,...] 64 MiB', text: zeros(64 * MiB), scale: 64 },
  { label: '{"k0":0,...} 64 MiB', text: keyed(64 * MiB), scale: 64 },
];

function timeMs(fn: () => unknown): number {
  const started = performance.now();
  fn();
  return performance.now() - started;
}
const format = (ms: number) =>
  ms >= 120_000
    ? `${(ms / 60_000).toFixed(1)} min`
    : ms >= 10_000
      ? `${(ms / 1000).toFixed(1)} s`
      : `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;

const beforeAll = process.argv.includes('--before-all');
console.log('body                    JSON.parse   flatten before         flatten after   json.* kept');
let beforePerMiB: number | undefined;
for (const body of bodies) {
  let json: unknown;
  const parse = timeMs(() => (json = JSON.parse(body.text)));
  const out: Observations = {};
  const after = Math.min(...[1, 2, 3].map(() => timeMs(() => flattenJson(body.text, json, 'json', {}))));
  flattenJson(body.text, json, 'json', out);
  let before: string;
  if (body.scale === 1 || beforeAll) {
    const ms = timeMs(() => flattenJsonBefore(json, 'json', {}));
    if (body.scale === 1) beforePerMiB = ms;
    before = format(ms);
  } else before = `~${format((beforePerMiB ?? NaN) * body.scale)} (extrap.)`;
  console.log(
    `${body.label.padEnd(23)} ${format(parse).padEnd(12)} ${before.padEnd(22)} ${format(after).padEnd(15)} ${Object.keys(out).length}`,
  );
}
