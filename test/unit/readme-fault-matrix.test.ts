import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FAULT_MATRIX } from '../helpers/fault-matrix.ts';

test("the README's fault matrix lists every row of the fault matrix test, with its status and error code", () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(
    readme.indexOf('### Fault matrix'),
    readme.indexOf('\n## ', readme.indexOf('### Fault matrix')),
  );
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
