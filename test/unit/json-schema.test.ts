import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';
import { configurationJsonSchema } from '../../src/cli/json-schema.ts';
import { ConfigError } from '../../src/config/load.ts';
import { loadWholeConfig } from '../../src/cli/config.ts';
import { runCli } from '../helpers/cli.ts';

const SCHEMA_FILE = resolve('scaiprobe.schema.json');
const SHIPPED = [
  ...readdirSync('probes').map((name) => join('probes', name)),
  ...['test/fixtures/config/issue-examples', 'test/fixtures/config/valid'].flatMap((dir) =>
    readdirSync(dir).map((name) => join(dir, name)),
  ),
].filter((file) => /\.ya?ml$/.test(file));

// ajv-formats is CommonJS with a default export; under ESM its function may sit one level down.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: Ajv,
) => Ajv;
const ajv = addFormats(new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }));
const validate = ajv.compile(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as object);
const problems = (errors: ErrorObject[] | null | undefined) =>
  (errors ?? [])
    .filter((e) => e.keyword !== 'if' && e.keyword !== 'anyOf')
    .map(
      (e) =>
        `${e.instancePath || '/'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`,
    );

test('scaiprobe.schema.json is what `scaiprobe schema` prints now (regenerate it with: scaiprobe schema > scaiprobe.schema.json)', async () => {
  assert.equal(readFileSync(SCHEMA_FILE, 'utf8'), `${JSON.stringify(configurationJsonSchema(), null, 2)}\n`);
  const printed = await runCli(['schema']);
  assert.equal(printed.code, 0, printed.stderr);
  assert.equal(printed.stdout, readFileSync(SCHEMA_FILE, 'utf8'));
});

test('every shipped and example configuration names the schema on its first line and is valid against it', () => {
  assert.ok(SHIPPED.length >= 10, SHIPPED.join(', '));
  for (const file of SHIPPED) {
    const text = readFileSync(file, 'utf8');
    const reference = /^# yaml-language-server: \$schema=(\S+)\n/.exec(text)?.[1];
    assert.ok(reference, `${file} starts with the yaml-language-server line`);
    assert.equal(resolve(dirname(file), reference), SCHEMA_FILE, `${file} points at scaiprobe.schema.json`);
    assert.equal(validate(parse(text)), true, `${file}: ${problems(validate.errors).join('; ')}`);
  }
});

test('every YAML example in the documentation is valid against the schema', () => {
  const pages = [
    'README.md',
    ...(existsSync('docs')
      ? readdirSync('docs', { recursive: true })
          .map(String)
          .filter((name) => name.endsWith('.md'))
          .map((name) => join('docs', name))
      : []),
  ];
  const blocks = pages.flatMap((page) =>
    [...readFileSync(page, 'utf8').matchAll(/```ya?ml\n([\s\S]*?)```/g)].map((match, index) => ({
      where: `${page} YAML block ${index + 1}`,
      yaml: match[1] ?? '',
    })),
  );
  assert.ok(blocks.length >= 10, `the documentation's examples (${blocks.length})`);
  for (const block of blocks)
    assert.equal(validate(parse(block.yaml)), true, `${block.where}: ${problems(validate.errors).join('; ')}`);
});

/** Keys and values the loader refuses, each with where the schema must say so. */
const BAD: Array<{ name: string; yaml: string; at: RegExp }> = [
  {
    name: 'a misspelt key',
    yaml: 'probes:\n  - { name: a, kind: http, url: "http://127.0.0.1/", expct: [status == 200] }\n',
    at: /^\/probes\/0 must NOT have additional properties \(expct\)/,
  },
  {
    name: 'an unknown kind',
    yaml: 'probes:\n  - { name: a, kind: htp, url: "http://127.0.0.1/" }\n',
    at: /^\/probes\/0\/kind must be equal to one of the allowed values/,
  },
  {
    name: "a kind's required key missing",
    yaml: 'probes:\n  - { name: a, kind: http }\n',
    at: /^\/probes\/0 must have required property 'url'/,
  },
  {
    name: 'a duration in words',
    yaml: 'probes:\n  - { name: a, kind: http, url: "http://127.0.0.1/", every: 5 minutes }\n',
    at: /^\/probes\/0\/every must match pattern/,
  },
  {
    name: 'a number where a duration goes',
    yaml: 'defaults: { timeout: 5 }\nprobes: []\n',
    at: /^\/defaults\/timeout must be string/,
  },
  {
    name: 'an inline credential',
    yaml: 'probes:\n  - { name: s, kind: stats, api: "http://127.0.0.1:8000", apiKey: SG.inline-key }\n',
    at: /^\/probes\/0\/apiKey must match pattern/,
  },
  {
    name: 'an unknown top-level section',
    yaml: 'alert: {}\nprobes: []\n',
    at: /^\/ must NOT have additional properties \(alert\)/,
  },
  {
    name: 'a bad alert channel',
    yaml: 'alerts:\n  channels: [{ name: am, type: alertmanager, url: "http://127.0.0.1:9093", resend: soon }]\n',
    at: /^\/alerts\/channels\/0\/resend must match pattern/,
  },
];

for (const bad of BAD) {
  test(`the schema refuses ${bad.name}, as the loader does`, () => {
    assert.equal(validate(parse(bad.yaml)), false);
    const said = problems(validate.errors);
    assert.ok(
      said.some((line) => bad.at.test(line)),
      said.join('\n'),
    );
  });
}

test('the loader refuses each of those too (the schema is no stricter than it)', async () => {
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(join(tmpdir(), 'scaiprobe-schema-'));
  try {
    for (const [index, bad] of BAD.entries()) {
      const file = join(dir, `${index}.yaml`);
      await writeFile(file, bad.yaml);
      assert.throws(() => loadWholeConfig(file, {}), ConfigError, bad.name);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('references are accepted where the loader resolves them before validating', () => {
  const withReferences = {
    server: { listen: '127.0.0.1:${PORT}', token: '${secret:ADMIN_TOKEN}' },
    probes: [
      { name: 'a', kind: 'http', url: '${TARGET_URL}/ready', every: '${EVERY}' },
      { name: 's', kind: 'stats', api: 'http://127.0.0.1:8000', apiKey: '${file:/run/secrets/key}' },
    ],
    alerts: {
      channels: [{ name: 'am', type: 'alertmanager', url: '${ALERTMANAGER_URL}', bearerToken: '${AM_TOKEN}' }],
    },
  };
  assert.equal(validate(withReferences), true, problems(validate.errors).join('; '));
});

test('what the loader accepts after resolution, the schema accepts before it', async () => {
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(join(tmpdir(), 'scaiprobe-schema-'));
  const yaml = [
    'server: { listen: "127.0.0.1:${PORT}", token: "${ADMIN_TOKEN}" }',
    'probes:',
    '  - { name: a, kind: http, url: "${TARGET_URL}/ready", every: 30s }',
    'alerts:',
    '  channels: [{ name: am, type: alertmanager, url: "${ALERTMANAGER_URL}", basicAuth: { username: scaiprobe, password: "${AM_PASSWORD}" } }]',
    '',
  ].join('\n');
  try {
    const file = join(dir, 'probes.yaml');
    await writeFile(file, yaml);
    const env = {
      PORT: '9464',
      ADMIN_TOKEN: 'an-admin-token-of-24-chars',
      TARGET_URL: 'http://127.0.0.1:8000',
      ALERTMANAGER_URL: 'http://127.0.0.1:9093',
      AM_PASSWORD: 'pw',
    };
    assert.equal(loadWholeConfig(file, env).probes.length, 1);
    assert.equal(validate(parse(yaml)), true, problems(validate.errors).join('; '));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
