// Every file in src/ opens with a one-line comment saying what it holds (after a shebang, if any).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|js)$/.test(entry.name) ? [relative(root, path)] : [];
  });
}

/** The first line that is not a shebang, or undefined for an empty file. */
function openingLine(text: string): string | undefined {
  const lines = text.split('\n');
  return lines[0]?.startsWith('#!') ? lines[1] : lines[0];
}

test('the opening line is a comment that says something, after a shebang', () => {
  assert.equal(openingLine('// The scheduler.\nimport x;\n'), '// The scheduler.');
  assert.equal(openingLine('#!/usr/bin/env node\n// The command line.\n'), '// The command line.');
  assert.equal(openingLine('import { z } from "zod";\n'), 'import { z } from "zod";');
});

test('every source file opens with a one-line comment saying what it holds', () => {
  const files = sourceFiles(join(root, 'src'));
  assert.ok(files.length > 100, `found only ${files.length} source files`);
  const missing = files.filter((file) => !/^\/\/ \S/.test(openingLine(readFileSync(join(root, file), 'utf8')) ?? ''));
  assert.deepEqual(missing, [], 'files whose first line is not a comment saying what they hold');
});
