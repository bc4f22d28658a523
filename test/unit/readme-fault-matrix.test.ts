import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FAULT_MATRIX } from '../helpers/fault-matrix.ts';

test('the fault matrix in docs/troubleshooting.md lists every row of the fault matrix test, with its status and error code', () => {
  const readme = readFileSync(new URL('../../docs/troubleshooting.md', import.meta.url), 'utf8');
  const start = readme.indexOf('## Fault matrix');
  assert.ok(start >= 0, 'a "Fault matrix" section');
  const next = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, next < 0 ? undefined : next);
  const rows = section
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| kind') && !line.startsWith('|---'))
    .map((line) => {
      const cells = line
        .split(/(?<!\\)\|/)
        .slice(1, -1)
        .map((cell) => cell.trim());
      const plain = (cell: string | undefined) => (cell ?? '').replace(/`/g, '');
      return {
        kind: cells[0],
        fault: cells[1],
        status: plain(cells[3]),
        code: plain(cells[4]) === '—' ? null : plain(cells[4]),
      };
    });
  assert.deepEqual(
    rows,
    FAULT_MATRIX.map((row) => ({ kind: row.kind, fault: row.fault, status: row.expect.status, code: row.expect.code })),
  );
});
