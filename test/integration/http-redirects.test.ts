import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import dns from 'node:dns';
import type { AddressInfo, LookupFunction } from 'node:net';
import { createHttpClient } from '../../src/protocols/http/client.ts';
import { ProbeFailure } from '../../src/core/errors.ts';
import { runYaml } from '../helpers/run.ts';

/** What one request brought to a test server. */
interface Seen {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Recorder {
  /** Base URL without a trailing slash. */
  url: string;
  port: number;
  seen: Seen[];
}

type Answer = (seen: Seen, res: ServerResponse) => void;

const servers: Server[] = [];
after(() => {
  for (const server of servers) server.close();
});

const tls = (name: string) => readFileSync(`test/fixtures/tls/${name}`, 'utf8');
const testCa = tls('test-ca.pem').replace(/\n/g, '\\n');

const ok: Answer = (_seen, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{"status":"ok"}');
};

/** A server that records every request and answers with `answer` (default 200 `{"status":"ok"}`). */
async function recorder(answer: Answer = ok, options: { host?: string; https?: boolean } = {}): Promise<Recorder> {
  const seen: Seen[] = [];
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const entry = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      seen.push(entry);
      answer(entry, res);
    });
  };
  const server = options.https
    ? createHttpsServer({ cert: tls('valid-cert.pem'), key: tls('server-key.pem') }, handle)
    : createServer(handle);
  servers.push(server);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `${options.https ? 'https' : 'http'}://${host}:${port}`, port, seen };
}

/** Answers `status` with Location `to` (a function of the request, so a server can redirect to itself). */
function redirectTo(status: number, to: (seen: Seen) => string | undefined): Answer {
  return (seen, res) => {
    const location = to(seen);
    if (location === undefined) return ok(seen, res);
    res.writeHead(status, { location });
    res.end();
  };
}

const CREDENTIALS = {
  authorization: 'Bearer tok-123456789',
  cookie: 'session=cookie-987654321',
  'proxy-authorization': 'Basic cHJveHk6c2VjcmV0',
  'x-api-key': 'key-55555',
};

/** The YAML headers mapping carrying every credential above, each by reference as credentials are written. */
const credentialHeaders = `{ Authorization: "Bearer \${TOKEN}", Cookie: "\${COOKIE}", Proxy-Authorization: "\${PROXY_AUTH}", X-Api-Key: "\${API_KEY}" }`;
const env = {
  TOKEN: 'tok-123456789',
  COOKIE: CREDENTIALS.cookie,
  PROXY_AUTH: CREDENTIALS['proxy-authorization'],
  API_KEY: CREDENTIALS['x-api-key'],
};

function assertNoCredentials(seen: Seen | undefined, where: string): void {
  assert.ok(seen, `${where} was not reached`);
  const leaked = Object.entries(CREDENTIALS).filter(([name]) => seen.headers[name] !== undefined);
  assert.deepEqual(leaked, [], `${where} received configured headers`);
  const text = JSON.stringify(seen);
  for (const value of Object.values(CREDENTIALS)) assert.ok(!text.includes(value), `${where} saw ${value}: ${text}`);
}

test('a cross-origin 302 does not carry Authorization, Cookie, Proxy-Authorization or any configured header', async () => {
  const second = await recorder();
  const first = await recorder(redirectTo(302, () => `${second.url}/landing`));
  const run = (
    await runYaml(`probes:\n  - { name: r, kind: http, url: "${first.url}/start", headers: ${credentialHeaders} }\n`, {
      env,
    })
  ).get('r');
  assert.equal(run?.status, 'pass', run?.message);
  assert.equal(run?.observations.redirects, 1);
  assert.equal(
    first.seen[0]?.headers.authorization,
    CREDENTIALS.authorization,
    'the configured origin gets its credentials',
  );
  assert.equal(first.seen[0]?.headers['x-api-key'], CREDENTIALS['x-api-key']);
  assertNoCredentials(second.seen[0], 'the other origin');
});

test('a cross-origin 307 after POST keeps the method but carries neither the body nor the headers', async () => {
  const second = await recorder();
  const first = await recorder(redirectTo(307, () => `${second.url}/elsewhere`));
  const run = (
    await runYaml(
      `probes:\n  - { name: r, kind: http, method: POST, url: "${first.url}/submit", headers: ${credentialHeaders}, body: { note: "body-only-424242" } }\n`,
      { env },
    )
  ).get('r');
  assert.equal(run?.status, 'pass', run?.message);
  assert.equal(first.seen[0]?.body, '{"note":"body-only-424242"}');
  const hop = second.seen[0];
  assertNoCredentials(hop, 'the other origin');
  assert.equal(hop?.method, 'POST');
  assert.equal(hop?.body, '');
  assert.equal(hop?.headers['content-type'], undefined);
});

test('headers stay off for the rest of the chain, even when it comes back to the first origin', async () => {
  let firstUrl = '';
  const second = await recorder(redirectTo(302, () => `${firstUrl}/back`));
  const first = await recorder(redirectTo(302, (seen) => (seen.path === '/start' ? `${second.url}/away` : undefined)));
  firstUrl = first.url;
  const run = (
    await runYaml(`probes:\n  - { name: r, kind: http, url: "${first.url}/start", headers: ${credentialHeaders} }\n`, {
      env,
    })
  ).get('r');
  assert.equal(run?.status, 'pass', run?.message);
  assert.equal(run?.observations.redirects, 2);
  assertNoCredentials(second.seen[0], 'the other origin');
  assertNoCredentials(first.seen[1], 'the first origin, reached again through the other one');
});

test('a same-origin redirect keeps the configured headers, and a 307 keeps the body', async () => {
  const server = await recorder(redirectTo(307, (seen) => (seen.path === '/start' ? '/end' : undefined)));
  const run = (
    await runYaml(
      `probes:\n  - { name: r, kind: http, method: POST, url: "${server.url}/start", headers: ${credentialHeaders}, body: "payload" }\n`,
      { env },
    )
  ).get('r');
  assert.equal(run?.status, 'pass', run?.message);
  const hop = server.seen[1];
  assert.equal(hop?.path, '/end');
  assert.equal(hop?.method, 'POST');
  assert.equal(hop?.body, 'payload');
  for (const [name, value] of Object.entries(CREDENTIALS)) assert.equal(hop?.headers[name], value, name);
});

test('303, and 301/302 after POST, become a GET without the body or its headers (same origin: credentials kept)', async () => {
  for (const status of [303, 301, 302]) {
    const server = await recorder(redirectTo(status, (seen) => (seen.path === '/form' ? '/done' : undefined)));
    const run = (
      await runYaml(
        `probes:\n  - { name: r, kind: http, method: POST, url: "${server.url}/form", headers: ${credentialHeaders}, body: { a: 1 } }\n`,
        { env },
      )
    ).get('r');
    assert.equal(run?.status, 'pass', `${status}: ${run?.message}`);
    const hop = server.seen[1];
    assert.equal(hop?.method, 'GET', `${status}`);
    assert.equal(hop?.body, '', `${status}`);
    assert.equal(hop?.headers['content-type'], undefined, `${status}: the body's type went with the body`);
    assert.equal(hop?.headers['content-length'], undefined, `${status}`);
    assert.equal(hop?.headers.authorization, CREDENTIALS.authorization, `${status}: same origin keeps credentials`);
  }
});

test('https to http is refused with a PROTOCOL error unless allowInsecureRedirects; the http server hears nothing', async () => {
  const plain = await recorder();
  const secure = await recorder(
    redirectTo(302, () => `${plain.url}/downgraded`),
    { https: true },
  );
  const results = await runYaml(
    `probes:
  - { name: strict, kind: http, url: "${secure.url}/start", headers: ${credentialHeaders}, tls: { ca: "${testCa}" } }
`,
    { env },
  );
  const strict = results.get('strict');
  assert.equal(strict?.status, 'fail');
  assert.equal(strict?.error?.code, 'PROTOCOL');
  assert.match(strict?.error?.message ?? '', /plain http/i);
  assert.match(strict?.error?.message ?? '', /allowInsecureRedirects/);
  assert.equal(plain.seen.length, 0);

  const lenient = (
    await runYaml(
      `probes:\n  - { name: lenient, kind: http, url: "${secure.url}/start", allowInsecureRedirects: true, headers: ${credentialHeaders}, tls: { ca: "${testCa}" } }\n`,
      { env },
    )
  ).get('lenient');
  assert.equal(lenient?.status, 'pass', lenient?.message);
  assertNoCredentials(plain.seen[0], 'the plain-HTTP hop');
});

test('a redirect to a link-local or metadata address is refused, in every spelling', async () => {
  // Port 9 (discard): even if a refusal were missed, nothing there would answer.
  const targets = [
    'http://169.254.169.254:9/latest/meta-data/',
    'http://2852039166:9/',
    'http://0xa9.0xfe.0xa9.0xfe:9/',
    'http://[::ffff:169.254.169.254]:9/',
    'http://[fd00:ec2::254]:9/',
    'http://[fe80::1]:9/',
  ];
  for (const target of targets) {
    const first = await recorder(redirectTo(302, () => target));
    const run = (
      await runYaml(
        `probes:\n  - { name: r, kind: http, url: "${first.url}/", headers: ${credentialHeaders}, timeout: 2s }\n`,
        { env },
      )
    ).get('r');
    assert.equal(run?.status, 'fail', target);
    assert.equal(run?.error?.code, 'PROTOCOL', `${target}: ${run?.error?.message}`);
    assert.match(run?.error?.message ?? '', /link-local|metadata/, target);
    assert.match(run?.error?.message ?? '', /redirectHosts/, target);
  }
});

test('redirectHosts: a listed host is followed, any other host is refused', async () => {
  // The whole of 127.0.0.0/8 is loopback on Linux: distinct hosts without DNS.
  const listed = await recorder(ok, { host: '127.0.0.2' });
  const unlisted = await recorder(ok, { host: '127.0.0.3' });
  const first = await recorder(
    redirectTo(302, (seen) => (seen.path === '/to-listed' ? `${listed.url}/` : `${unlisted.url}/`)),
  );
  const results = await runYaml(
    `probes:
  - { name: listed, kind: http, url: "${first.url}/to-listed", redirectHosts: [127.0.0.2] }
  - { name: unlisted, kind: http, url: "${first.url}/to-unlisted", redirectHosts: [127.0.0.2] }
  - { name: same-host, kind: http, url: "${first.url}/to-unlisted", redirectHosts: ["*.example.test", 127.0.0.3] }
`,
  );
  assert.equal(results.get('listed')?.status, 'pass', results.get('listed')?.message);
  assert.equal(listed.seen.length, 1);
  const refused = results.get('unlisted');
  assert.equal(refused?.error?.code, 'PROTOCOL');
  assert.match(refused?.error?.message ?? '', /127\.0\.0\.3 is not in redirectHosts/);
  assert.equal(results.get('same-host')?.status, 'pass', results.get('same-host')?.message);
  assert.equal(unlisted.seen.length, 1, 'only the probe that lists it reached the unlisted host');
});

test('redirectHosts entries are checked when the config loads', async () => {
  await assert.rejects(
    runYaml(
      `probes:\n  - { name: r, kind: http, url: "http://127.0.0.1:9/", redirectHosts: ["example.com/path", "host:8080"] }\n`,
    ),
    (error: Error) => {
      assert.match(error.message, /redirectHosts\[0\]: must be a host name/);
      assert.match(error.message, /redirectHosts\[1\]: must be a host name/);
      return true;
    },
  );
});

test('a redirect whose host name resolves to a metadata address is refused before connecting', async () => {
  const lookups: string[] = [];
  const lookup: LookupFunction = (hostname, options, callback) => {
    lookups.push(hostname);
    if (hostname === 'metadata.test') {
      if (options.all) callback(null, [{ address: '169.254.169.254', family: 4 }]);
      else callback(null, '169.254.169.254', 4);
      return;
    }
    dns.lookup(hostname, options, callback);
  };
  const first = await recorder(redirectTo(302, () => 'http://metadata.test:9/latest/meta-data/'));
  const client = createHttpClient({ lookup });
  const request = client.request({
    url: `${first.url}/`,
    headers: CREDENTIALS,
    signal: AbortSignal.timeout(3000),
    maxRedirects: 5,
  });
  await assert.rejects(request, (error: unknown) => {
    assert.ok(error instanceof ProbeFailure, String(error));
    assert.equal(error.code, 'PROTOCOL', error.message);
    assert.match(error.message, /metadata\.test/);
    assert.match(error.message, /169\.254\.169\.254/);
    return true;
  });
  assert.deepEqual(lookups, ['metadata.test']);
});

test('a Location that is not an http(s) URL is a PROTOCOL failure', async () => {
  for (const location of ['file:///etc/passwd', 'http://[broken/']) {
    const first = await recorder(redirectTo(302, () => location));
    const run = (await runYaml(`probes:\n  - { name: r, kind: http, url: "${first.url}/" }\n`)).get('r');
    assert.equal(run?.error?.code, 'PROTOCOL', `${location}: ${run?.error?.message}`);
  }
});

test('the other kinds that send credentials never follow a redirect', async () => {
  const elsewhere = await recorder();
  const bouncing = await recorder(redirectTo(302, (seen) => `${elsewhere.url}${seen.path}`));
  const results = await runYaml(
    `probes:
  - { name: metrics, kind: prometheus, url: "${bouncing.url}/metrics", token: "\${TOKEN}", headers: { Cookie: "\${COOKIE}" }, warmup: 0s, expect: [up == 1] }
  - { name: rates, kind: stats, api: "${bouncing.url}", apiKey: "\${TOKEN}" }
  - name: zone
    kind: zone-sync
    powerdns: { api: "${bouncing.url}", apiKey: "\${TOKEN}", zone: example.test. }
    servers: [127.0.0.1:9]
    intended: { url: "${bouncing.url}/intended", headers: { Authorization: "Bearer \${TOKEN}" } }
`,
    { env },
  );
  for (const run of results.values()) assert.equal(run.status, 'fail', `${run.probe}: ${run.message}`);
  assert.ok(bouncing.seen.length >= 3, `the configured API was asked (${bouncing.seen.length})`);
  assert.deepEqual(elsewhere.seen, [], 'nothing reached the redirect target');
});

test("the client's default headers go with every hop, even to another origin; the request's own header wins", async () => {
  const second = await recorder();
  const first = await recorder(redirectTo(302, () => `${second.url}/landing`));
  const client = createHttpClient({ defaultHeaders: { 'X-Scaiprobe-Location': 'eu-west' } });
  const answer = await client.request({
    url: `${first.url}/start`,
    headers: { authorization: CREDENTIALS.authorization },
    maxRedirects: 1,
    signal: AbortSignal.timeout(5000),
  });
  assert.equal(answer.status, 200);
  assert.equal(first.seen[0]?.headers['x-scaiprobe-location'], 'eu-west');
  assert.equal(second.seen[0]?.headers['x-scaiprobe-location'], 'eu-west', 'the client says where it is everywhere');
  assertNoCredentials(second.seen[0], 'the other origin');
  await client.request({
    url: `${second.url}/own`,
    headers: { 'x-scaiprobe-location': 'us-east' },
    signal: AbortSignal.timeout(5000),
  });
  const own = second.seen.find((seen) => seen.path === '/own');
  assert.equal(own?.headers['x-scaiprobe-location'], 'us-east', 'one value: the request’s');
});
