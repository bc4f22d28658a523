import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, ConfigError, formatIssue } from '../../src/config/load.ts';
import { LAB_ENV } from '../../src/lab/lab.ts';
import { readAlertingSections } from '../../src/alerting/wire.ts';
import { parseReportsConfig } from '../../src/reports/config.ts';
import { parseAlertsSection } from '../../src/alerting/config.ts';
import { loadWholeConfig } from '../../src/cli/config.ts';
import { PROBE_KINDS } from '../../src/probers/registry.ts';
import { Redactor } from '../../src/util/redact.ts';

const fixtures = 'test/fixtures/config';

function problems(file: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadConfig(file, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.issues.map(formatIssue);
  }
  assert.fail(`${file} was accepted`);
}

test("the foundation issue's example is valid as written", () => {
  const config = loadConfig(`${fixtures}/valid/issue-2-example.yaml`, {});
  assert.equal(config.probes.length, 2);
  const [ready, dns] = config.probes;
  assert.equal(ready?.every, 30_000);
  assert.equal(ready?.timeout, 5_000);
  assert.deepEqual(
    ready?.expect.map((a) => a.expr),
    ['status == 200', 'json.status == "ready"', 'latency < 200ms'],
  );
  assert.equal(dns?.cron, '*/1 * * * *');
  assert.equal(dns?.every, undefined, 'a cron probe has no interval');
});

test('the shipped default configuration is valid with the lab credentials, every section included', () => {
  const config = loadConfig('probes', { ...LAB_ENV });
  readAlertingSections(config);
  parseReportsConfig(config.sections.reports, config.files);
  const kinds = new Set(config.probes.map((p) => p.kind));
  for (const kind of PROBE_KINDS.map((k) => k.kind))
    assert.ok(kinds.has(kind), `the default configuration shows the ${kind} kind`);
});

test('an unset secret is reported once, without follow-on noise', () => {
  const found = (() => {
    try {
      loadConfig('probes/mail.yaml', {});
    } catch (error) {
      return (error as ConfigError).issues.map(formatIssue);
    }
    return [];
  })();
  assert.ok(found.length > 0);
  for (const line of found) assert.match(line, /environment variable \w+ is not set/);
});

const cases: Array<[string, RegExp[]]> = [
  ['unknown-key.yaml', [/unknown-key\.yaml:5:\d+: probes\[0\]: unknown key "expct"/]],
  [
    'many-problems.yaml',
    [
      /probes\[0\]\.url: must be an http:\/\/ or https:\/\/ URL/,
      /probes\[0\]\.every: "30 seconds" is not a duration/,
      /probes\[1\]\.kind: unknown kind "htp" \(known: http/,
      /probes\[2\]\.expect\[0\]: "status = 200" is not an assertion/,
      /probes\[3\]\.cron: is not a valid cron expression/,
    ],
  ],
  [
    'missing-secret.yaml',
    [
      /probes\[0\]\.headers\.authorization: \$\{SCAIPROBE_TEST_UNSET_TOKEN\}: environment variable SCAIPROBE_TEST_UNSET_TOKEN is not set/,
    ],
  ],
  ['inline-secret.yaml', [/server\.token: is a secret: write it as "\$\{ENV_NAME\}"/]],
  [
    'inline-credentials.yaml',
    [
      /inline-credentials\.yaml:4:10: probes\[0\]\.url: the query parameter "api_key" is a credential written inline: write it as a reference, e\.g\. \?api_key=\$\{ENV_NAME\}/,
      /inline-credentials\.yaml:9:22: probes\[1\]\.headers\.Authorization: the header "Authorization" is a credential written inline: write it as a reference, e\.g\. "Bearer \$\{API_TOKEN\}"/,
      /inline-credentials\.yaml:10:15: probes\[1\]\.headers\.Cookie: cookie values are credentials written inline: write each as a reference, e\.g\. "session=\$\{SESSION_COOKIE\}"/,
      /inline-credentials\.yaml:11:18: probes\[1\]\.headers\.X-Api-Key: the header "X-Api-Key" is a credential written inline/,
      /inline-credentials\.yaml:14:12: probes\[2\]\.redis: the URL has a password written inline: write it as a reference, e\.g\. "redis:\/\/user:\$\{ENV_NAME\}@host\/"/,
    ],
  ],
  ['duplicate-names.yaml', [/probes\[1\]\.name: "same" is already the name of a probe/]],
  ['every-and-cron.yaml', [/probes\[0\]\.cron: give either "every" or "cron", not both/]],
  ['bad-yaml.yaml', [/bad-yaml\.yaml:\d+:\d+: YAML:/]],
  ['bad-defaults.yaml', [/defaults: unknown key "colour"/, /defaults\.timeout: "soon" is not a duration/]],
  ['jitter-over-100.yaml', [/scheduler\.jitter: .*at most 100%/]],
];

for (const [file, expected] of cases) {
  test(`invalid fixture ${file} reports every problem with file and key path`, () => {
    const found = problems(`${fixtures}/invalid/${file}`);
    for (const pattern of expected)
      assert.ok(
        found.some((line) => pattern.test(line)),
        `no problem matches ${pattern}; got:\n${found.join('\n')}`,
      );
    assert.equal(found.length, expected.length, `unexpected extra problems:\n${found.join('\n')}`);
    for (const line of found)
      assert.ok(line.startsWith(`${fixtures}/invalid/${file}`), `problem does not name its file: ${line}`);
  });
}

test('secrets resolve from the environment and files, and are collected for redaction', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scaiprobe-config-'));
  writeFileSync(join(dir, 'token.txt'), 'file-secret-value\n');
  writeFileSync(
    join(dir, 'probes.yaml'),
    `server: { token: "\${file:token.txt}" }\nprobes:\n  - name: s\n    kind: http\n    url: http://127.0.0.1:1/\n    headers: { authorization: "Bearer \${API_TOKEN}" }\n`,
  );
  const config = loadConfig(dir, { API_TOKEN: 'env-secret-value' });
  assert.equal(config.server.token, 'file-secret-value');
  assert.equal((config.probes[0]?.headers as Record<string, string>).authorization, 'Bearer env-secret-value');
  assert.deepEqual(config.secrets.sort(), ['env-secret-value', 'file-secret-value']);
});

test('defaults apply to every probe; a folder loads all its files; names are unique across files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scaiprobe-config-'));
  writeFileSync(
    join(dir, 'a.yaml'),
    'defaults: { timeout: 2s, retries: 2, tags: [base], tenant: acme }\nprobes:\n  - { name: one, kind: http, url: "http://127.0.0.1:1/", tags: [extra] }\n',
  );
  writeFileSync(join(dir, 'b.yml'), 'probes:\n  - { name: two, kind: http, url: "http://127.0.0.1:2/", every: 5m }\n');
  const config = loadConfig(dir, {});
  const one = config.probes.find((p) => p.name === 'one');
  assert.equal(one?.timeout, 2000);
  assert.equal(one?.retries, 2);
  assert.deepEqual(one?.tags, ['base', 'extra']);
  assert.equal(one?.tenant, 'acme');
  assert.equal(one?.every, 60_000, 'interval defaults to one minute');
  assert.equal(config.probes.find((p) => p.name === 'two')?.every, 300_000);
  writeFileSync(join(dir, 'c.yaml'), 'probes:\n  - { name: one, kind: http, url: "http://127.0.0.1:3/" }\n');
  const found = (() => {
    try {
      loadConfig(dir, {});
    } catch (error) {
      return (error as ConfigError).issues.map(formatIssue);
    }
    return [];
  })();
  assert.ok(
    found.some((line) =>
      /c\.yaml:\d+:\d+: probes\[0\]\.name: "one" is already the name of a probe in .*a\.yaml/.test(line),
    ),
    found.join('\n'),
  );
});

test('an http probe without a status assertion fails on error statuses (implicit status < 400)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scaiprobe-config-'));
  writeFileSync(
    join(dir, 'p.yaml'),
    'probes:\n  - { name: bare, kind: http, url: "http://127.0.0.1:1/" }\n  - { name: own, kind: http, url: "http://127.0.0.1:1/", expect: ["status == 503"] }\n',
  );
  const config = loadConfig(dir, {});
  assert.deepEqual(
    config.probes[0]?.expect.map((a) => a.expr),
    ['status < 400'],
  );
  assert.deepEqual(
    config.probes[1]?.expect.map((a) => a.expr),
    ['status == 503'],
  );
});

test('a missing config path is a clear error', () => {
  assert.match(problems('no/such/dir')[0] ?? '', /no\/such\/dir: no such file or directory/);
});

test('an inline credential is reported without repeating it', () => {
  const found = problems(`${fixtures}/invalid/inline-credentials.yaml`).join('\n');
  for (const literal of ['literal-api-key', 'literal-bearer-token', 'literal-cookie', 'literal-header-key', 'hunter2'])
    assert.ok(!found.includes(literal), `${literal} echoed:\n${found}`);
});

function configDir(yaml: string, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'scaiprobe-config-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  writeFileSync(join(dir, 'probes.yaml'), yaml);
  return dir;
}

test('only secret-typed keys, marked references and credential positions are secrets', () => {
  const dir = configDir(
    `probes:
  - { name: dns-a, kind: dns, query: { name: www.example.test, type: A }, servers: ["\${DNS_HOST}:5300"] }
  - name: api
    kind: http
    url: "https://\${API_HOST}/v1/ping?region=\${REGION}&api_key=\${API_KEY}"
    headers:
      authorization: "Bearer \${API_TOKEN}"
      cookie: "session=\${SESSION}; theme=\${THEME}"
      x-tenant: "\${TENANT_HEADER}"
      x-signed: "\${secret:SIGNED_VALUE}"
  - { name: queue, kind: queue, redis: "redis://:\${REDIS_PASS}@\${REDIS_HOST}:6390", keys: [a] }
  - { name: stats, kind: stats, api: "http://127.0.0.1:8000", apiKey: "\${secret:file:key.txt}" }
alerts:
  channels:
    - { name: slack, type: slack, url: "\${secret:SLACK_URL}" }
`,
    { 'key.txt': 'file-api-key-value\n' },
  );
  const env = {
    DNS_HOST: '127.0.0.1',
    API_HOST: 'api.example.test',
    REGION: 'europe-west',
    API_KEY: 'query-api-key-value',
    API_TOKEN: 'bearer-token-value',
    SESSION: 'session-cookie-value',
    THEME: 'dark-theme',
    TENANT_HEADER: 'tenant-header-value',
    SIGNED_VALUE: 'marked-secret-value',
    REDIS_PASS: 'redis-password-value',
    REDIS_HOST: 'redis.internal',
    SLACK_URL: 'https://hooks.slack.com/services/T1/B2/slack-url-secret',
  };
  const config = loadConfig(dir, env);
  assert.deepEqual(config.secrets.sort(), [
    'bearer-token-value',
    'dark-theme',
    'file-api-key-value',
    'https://hooks.slack.com/services/T1/B2/slack-url-secret',
    'marked-secret-value',
    'query-api-key-value',
    'redis-password-value',
    'session-cookie-value',
  ]);
  assert.equal(
    config.probes[1]?.url,
    'https://api.example.test/v1/ping?region=europe-west&api_key=query-api-key-value',
  );
  const redactor = new Redactor(config.secrets);
  // A plain reference is configuration, not a secret: observation names keep it.
  assert.deepEqual(redactor.value({ 'rcode.127.0.0.1:5300': 'NOERROR' }), { 'rcode.127.0.0.1:5300': 'NOERROR' });
  assert.equal(
    redactor.text(config.probes[1]?.url),
    'https://api.example.test/v1/ping?region=europe-west&api_key=[redacted]',
  );
  assert.equal(redactor.text(String(config.probes[2]?.redis)), 'redis://:[redacted]@redis.internal:6390');
});

test('a token used as the user name of a URL, written as a reference, is a secret', () => {
  const dir = configDir(
    'probes:\n  - { name: git, kind: http, url: "https://${GIT_TOKEN}@git.example.test/health", headers: { x-request-id: "${REQ}" } }\n',
  );
  const config = loadConfig(dir, { GIT_TOKEN: 'ghp-token-as-user', REQ: 'plain-request-id' });
  assert.deepEqual(config.secrets, ['ghp-token-as-user']);
});

test('credential-looking names outside headers and URLs, and non-credential query parameters, stay plain', () => {
  const dir = configDir(
    'probes:\n  - { name: q, kind: http, url: "https://api.example.test/search?q=monitoring&page=2", headers: { accept: application/json } }\n',
  );
  const config = loadConfig(dir, {});
  assert.deepEqual(config.secrets, []);
});

test('a missing marked reference names the variable or file', () => {
  const dir = configDir(
    'probes:\n  - { name: q, kind: http, url: "https://api.example.test/", headers: { authorization: "Bearer ${secret:NOT_SET_ANYWHERE}" } }\n',
  );
  const found = problems(dir);
  assert.equal(found.length, 1, found.join('\n'));
  assert.match(
    found[0] ?? '',
    /probes\[0\]\.headers\.authorization: \$\{secret:NOT_SET_ANYWHERE\}: environment variable NOT_SET_ANYWHERE is not set/,
  );
});

test('timeouts and retry delays stop at the longest a timer can wait; intervals may be longer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scaiprobe-config-'));
  const file = join(dir, 'p.yaml');
  const probe = (fields: string) =>
    `  - { name: p${Math.random().toString(36).slice(2, 8)}, kind: http, url: "http://127.0.0.1:1/", ${fields} }\n`;
  writeFileSync(
    file,
    `probes:\n${probe('every: 30d, timeout: 2147483647ms, retryDelay: 24d')}${probe('every: 365d, timeout: 24d')}`,
  );
  const config = loadConfig(file, {});
  assert.deepEqual(
    config.probes.map((p) => [p.every, p.timeout]),
    [
      [30 * 86_400_000, 2_147_483_647],
      [365 * 86_400_000, 24 * 86_400_000],
    ],
  );

  writeFileSync(file, `probes:\n${probe('timeout: 2147483648ms')}${probe('retryDelay: 30d')}${probe('every: 1m')}`);
  const found = problems(file);
  writeFileSync(file, `defaults: { timeout: 25d }\nprobes: []\n`);
  found.push(...problems(file));
  const range = /must be at most 2147483647ms \(24d 20h 31m 23.647s, the longest a timer can wait\)/;
  for (const path of ['defaults.timeout', 'probes[0].timeout', 'probes[1].retryDelay']) {
    assert.ok(
      found.some((line) => line.includes(`${path}: `) && range.test(line)),
      `${path} not reported:\n${found.join('\n')}`,
    );
  }
  const alerts = parseAlertsSection({
    channels: [{ name: 'hook', type: 'webhook', url: 'http://127.0.0.1:1/', timeout: '25d' }],
  }).issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  assert.ok(
    alerts.some((line) => /alerts\.channels\.0\.timeout: must be at most/.test(line)),
    alerts.join('\n'),
  );
});

test('every duration is written the same way, as text such as 500ms, wherever it stands; a bare number is refused everywhere', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scaiprobe-config-'));
  const file = join(dir, 'p.yaml');
  const dns = (fields: string) =>
    `  - { name: d${Math.random().toString(36).slice(2, 8)}, kind: dns, servers: ["127.0.0.1:53"], query: { name: a.test, type: A }, ${fields} }\n`;
  writeFileSync(
    file,
    `defaults: { retryDelay: 250ms }\nprobes:\n${dns('every: 1m, timeout: 500ms, queryTimeout: 500ms')}`,
  );
  const [probe] = loadConfig(file, {}).probes;
  assert.deepEqual([probe?.every, probe?.timeout, probe?.retryDelay, probe?.queryTimeout], [60_000, 500, 250, 500]);
  // The DNS kinds' queryTimeout once took numbers while every other duration did not.
  writeFileSync(
    file,
    `defaults: { retryDelay: 250 }\nprobes:\n${dns('every: 60000, timeout: 500, queryTimeout: 500')}`,
  );
  const found = problems(file);
  for (const path of ['defaults.retryDelay', 'probes[0].every', 'probes[0].timeout', 'probes[0].queryTimeout']) {
    assert.ok(
      found.some((line) => line.includes(`${path}: `)),
      `${path} not reported:\n${found.join('\n')}`,
    );
  }
});

test('one validation lists every problem of every file and section at once, each with file:line:column', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scaiprobe-config-'));
  writeFileSync(
    join(dir, 'a.yaml'),
    [
      'log: { level: loud }', // 1: a file-level problem ...
      'colour: blue', // 2: ... and another
      'probes:',
      '  - { name: twice, kind: http, url: "http://127.0.0.1:1/", every: soon }', // 4: a probe problem
      'reports:',
      '  tenants: { acme: { colour: red } }', // 6: a reports problem
      'alerts:',
      '  channels:',
      '    - { name: hook, type: webhook, url: "ftp://x" }', // 9: an alerts problem
      '    - { name: hook, type: webhook, url: "http://127.0.0.1:1/" }', // 10: a duplicate channel
      '  rules: [{ name: r, channels: [nope] }, { name: r }]', // 11: unknown channel, duplicate rule
      'indicators: { thresholds: { bounceRate: 2 } }', // 12: an indicators problem
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'b.yaml'),
    [
      'probes:',
      '  - { name: twice, kind: http, url: "http://127.0.0.1:2/", timeout: never }', // 2: duplicate name of an invalid probe, and its own problem
      '  - { name: dotted, kind: dns, query: { name: "a..b.example" }, servers: ["127.0.0.1:53"] }', // 3: an empty label
      '  - { name: long, kind: dns, query: { name: "' + 'x'.repeat(64) + '.example" }, servers: ["127.0.0.1:53"] }', // 4: a label of 64 bytes
      '  - { name: auth, kind: email-auth, domain: "example..test" }', // 5
      '',
    ].join('\n'),
  );
  // Each level repeats the one before nine times: 9^9 strings once expanded.
  const levels = [
    'a: &a ["x","x","x","x","x","x","x","x","x"]',
    ...'bcdefghi'.split('').map((name, i) => `${name}: &${name} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`),
  ];
  writeFileSync(join(dir, 'c.yaml'), `${levels.join('\n')}\nprobes: []\n`);

  let found: string[] = [];
  try {
    loadWholeConfig(dir, {});
    assert.fail('accepted');
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    found = error.issues.map(formatIssue);
  }
  const a = join(dir, 'a.yaml');
  const b = join(dir, 'b.yaml');
  const expected = [
    `${a}:1:15: log.level: `,
    `${a}:2:9: unknown key "colour"`,
    `${a}:4:67: probes[0].every: "soon" is not a duration`,
    `${a}:6:20: reports.tenants.acme: unknown key "colour"`,
    `${a}:9:41: alerts.channels[0].url: must be an http:// or https:// URL`,
    `${a}:10:15: alerts.channels[1].name: "hook" is already the name of a channel`,
    `${a}:11:33: alerts.rules[0].channels[0]: no channel named "nope"`,
    `${a}:11:50: alerts.rules[1].name: "r" is already the name of a rule`,
    `${a}:12:41: indicators.thresholds.bounceRate: `,
    `${b}:2:13: probes[0].name: "twice" is already the name of a probe in ${a}`,
    `${b}:2:69: probes[0].timeout: "never" is not a duration`,
    `${b}:3:47: probes[1].query.name: "a..b.example" is not a valid DNS name: it has an empty label`,
    `${b}:4:45: probes[2].query.name: "${'x'.repeat(64)}.example" is not a valid DNS name: its label`,
    `${b}:5:45: probes[3].domain: "example..test" is not a valid DNS name`,
    `${join(dir, 'c.yaml')}: YAML: aliases expand too far`,
  ];
  // In file and line order, so the listing reads top to bottom.
  assert.equal(found.length, expected.length, found.join('\n'));
  expected.forEach((start, i) =>
    assert.ok(found[i]?.startsWith(start), `line ${i}: want ${start}\ngot:\n${found.join('\n')}`),
  );
});
