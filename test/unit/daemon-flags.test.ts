// The daemon's V8 heap settings are the same wherever it starts: bin/scaiprobe.js, npm start, the image.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DAEMON_V8_FLAGS } from '../../bin/daemon-v8-flags.js';

test('npm start and the Docker image start the daemon with the heap settings bin/scaiprobe.js uses', () => {
  const start = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } }).scripts.start;
  const entrypoint = /^ENTRYPOINT (.*)$/m.exec(readFileSync('Dockerfile', 'utf8'))?.[1] ?? '';
  assert.ok(DAEMON_V8_FLAGS.length > 0);
  for (const flag of DAEMON_V8_FLAGS) {
    assert.ok(start.split(' ').includes(flag), `npm start passes ${flag}`);
    assert.ok((JSON.parse(entrypoint) as string[]).includes(flag), `the image's ENTRYPOINT passes ${flag}`);
  }
});
