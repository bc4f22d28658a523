// Authentication-Results unfolding and judging on folded header blocks of growing size.
// Run: node --import tsx bench/headers.bench.ts [--before-all]
//
// "before" is the header parser as it was (re-trimming the growing value for each folded
// line, quadratic), kept here for comparison; "after" is src/protocols/mail-auth/auth-results.ts.
// The last column is what the mail watcher now reads of a probe message: at most
// maxHeaderBytes (256 KiB by default); a stranger's message is not read at all (its token is
// looked for in X-Scaiprobe-Id and the subject only). The 5 MiB "before" takes about ten
// minutes of one core, so it is extrapolated from 512 KiB unless --before-all.
import { judgeAuthentication, parseHeaderBlock, type HeaderField } from '../src/protocols/mail-auth/auth-results.ts';
import { DEFAULT_MAX_HEADER_BYTES } from '../src/protocols/imap/watch.ts';

function parseHeaderBlockBefore(raw: string): HeaderField[] {
  const text = raw.replace(/\r\n/g, '\n');
  const end = text.indexOf('\n\n');
  const block = end >= 0 ? text.slice(0, end) : text;
  const fields: HeaderField[] = [];
  for (const line of block.split('\n')) {
    const last = fields[fields.length - 1];
    if (/^[ \t]/.test(line) && last) {
      last.value = `${last.value} ${line.trim()}`.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields.push({ name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1).trim() });
  }
  return fields;
}

/** An Authentication-Results header folded into `bytes` of ~40-byte lines, as a sender could write below the provider's. */
function foldedBlock(bytes: number): string {
  const line = '\tdkim=pass header.d=ex.example header.s=s1;\r\n';
  const top =
    'Authentication-Results: mx.example.test; spf=pass smtp.mailfrom=ex.example; dkim=pass header.d=ex.example; dmarc=pass\r\n';
  return `${top}Authentication-Results: mx.example.test;\r\n${line.repeat(Math.ceil(bytes / line.length))}\tspf=pass\r\nSubject: hi\r\n\r\nbody\r\n`;
}

function timeMs(fn: () => unknown, runs: number): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    fn();
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)] ?? NaN;
}

const beforeAll = process.argv.includes('--before-all');
const sizes = [64 * 1024, 512 * 1024, 5 * 1024 * 1024];
const judge = (parse: (raw: string) => HeaderField[]) => (raw: string) =>
  judgeAuthentication(parse(raw), 'mx.example.test');
const format = (ms: number) =>
  ms >= 120_000
    ? `${(ms / 60_000).toFixed(0)} min`
    : ms >= 10_000
      ? `${(ms / 1000).toFixed(1)} s`
      : `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;

console.log('header block   before (quadratic)      after (linear)   after, as read (<= 256 KiB)   speed-up');
let beforeAt512: number | undefined;
for (const size of sizes) {
  const raw = foldedBlock(size);
  // The provider's verdict (top header) must come out the same both ways.
  const verdict = judge(parseHeaderBlock)(raw);
  if (verdict.spf !== 'pass' || verdict.dkim !== 'pass') throw new Error('unexpected verdict');
  const after = timeMs(() => judge(parseHeaderBlock)(raw), 5);
  const capped = raw.slice(0, DEFAULT_MAX_HEADER_BYTES);
  const asRead = timeMs(() => judge(parseHeaderBlock)(capped), 5);
  let before: string;
  let beforeMs: number;
  if (size <= 512 * 1024 || beforeAll) {
    beforeMs = timeMs(() => judge(parseHeaderBlockBefore)(raw), 1);
    if (size === 512 * 1024) beforeAt512 = beforeMs;
    before = format(beforeMs);
  } else {
    // Quadratic: ten times the size, a hundred times the time.
    beforeMs = (beforeAt512 ?? NaN) * (size / (512 * 1024)) ** 2;
    before = `~${format(beforeMs)} (extrap.)`;
  }
  const label = size >= 1024 * 1024 ? `${size / 1024 / 1024} MiB` : `${size / 1024} KiB`;
  console.log(
    `${label.padEnd(14)} ${before.padEnd(23)} ${format(after).padEnd(16)} ${format(asRead).padEnd(29)} ${Math.round(beforeMs / after)}x`,
  );
}
