// RFC 7208 conformance (the openspf suite, test/fixtures/spf/) of the SPF evaluator, and the email-auth kind over the same DNS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { decode, encode } from 'dns-packet';
import { freePort, makeTempDir } from '../../src/lab/processes.ts';
import { startPdns, type PdnsInstance } from '../../src/lab/pdns.ts';
import { DnsClient, parseServer } from '../../src/protocols/dns/wire.ts';
import { spfResolver } from '../../src/protocols/mail-auth/spf-dns.ts';
import { evaluateSpf } from '../../src/protocols/mail-auth/spf.ts';
import { systemClock } from '../../src/util/clock.ts';
import { loadSpfSuite, type SpfCase, type SpfScenario } from '../helpers/spf-suite.ts';
import { emailAuthKind } from '../../src/probers/email-auth.ts';
import { probeOnce, proberDeps, specFor } from '../helpers/probe-run.ts';

const API_KEY = 'spf-suite-key';
const scenarios = loadSpfSuite(new URL('../fixtures/spf/rfc7208-tests.yml', import.meta.url).pathname);
const issueCases = loadSpfSuite(new URL('../fixtures/spf/issue-15-cases.yml', import.meta.url).pathname);

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let pdns: PdnsInstance;
let front: dgram.Socket;
let timeouts = new Map<string, Set<string>>();
let unservable: SpfScenario['unservable'] = new Map();

/**
 * The zone data is served by PowerDNS. Queries reach it through this loopback
 * relay, which passes every datagram through unchanged except for what a real
 * server will not do: it drops the questions the suite's TIMEOUT entries say
 * time out, and it answers (with dns-packet) for the two legal names PowerDNS
 * will not serve, `foo:bar/baz.example.com` and
 * `macro%percent  space%20url-space.example.com`.
 */
async function startRelay(upstreamPort: number): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (query, from) => {
    const question = decode(query).questions?.[0];
    const answered = question ? timeouts.get(question.name.toLowerCase()) : undefined;
    if (question && answered && !answered.has(question.type)) return;
    const own = question ? unservable.get(question.name.toLowerCase()) : undefined;
    if (question && own) {
      const answers = own
        .filter((record) => record.type === question.type)
        .map((record) => ({ name: question.name, type: record.type, ttl: 60, data: record.data }));
      const reply = encode({
        id: decode(query).id,
        type: 'response',
        flags: 0x0400,
        questions: [question],
        answers,
      } as Parameters<typeof encode>[0]);
      socket.send(reply, from.port, from.address);
      return;
    }
    const upstream = dgram.createSocket('udp4');
    upstream.on('message', (reply) => {
      socket.send(reply, from.port, from.address);
      upstream.close();
    });
    upstream.send(query, upstreamPort, '127.0.0.1');
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return socket;
}

async function api(method: string, path: string, body?: unknown): Promise<void> {
  const response = await fetch(`${pdns.apiUrl}/api/v1/servers/localhost${path}`, {
    method,
    headers: { 'X-API-Key': API_KEY, 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`PowerDNS API ${method} ${path}: ${response.status} ${await response.text()}`);
}

/** The scenario's zone data as the root zone, replacing the previous scenario's. */
async function serve(scenario: SpfScenario): Promise<void> {
  await api('DELETE', '/zones/=2E').catch(() => undefined);
  await api('POST', '/zones', {
    name: '.',
    kind: 'Native',
    nameservers: ['ns.invalid.'],
    rrsets: scenario.rrsets.map((rrset) => ({
      ...rrset,
      records: rrset.records.map((content) => ({ content, disabled: false })),
    })),
  });
  unservable = scenario.unservable;
  timeouts = scenario.timeouts;
}

before(async () => {
  temp = await makeTempDir('scaiprobe-spf-');
  pdns = await startPdns({
    dir: temp.dir,
    name: 'pdns-spf',
    dnsPort: await freePort(),
    apiPort: await freePort(),
    apiKey: API_KEY,
  });
  front = await startRelay(pdns.dnsPort);
});

after(async () => {
  front?.close();
  await pdns?.stop();
  await temp?.remove();
});

interface Tally {
  total: number;
  failures: string[];
  /** Explanations that match only when letter case is ignored. */
  caseOnly: number;
}

/** One case through evaluateSpf over the relay; a description of what went wrong, or undefined. */
async function check(client: DnsClient, scenario: SpfScenario, spfCase: SpfCase, tally: Tally): Promise<void> {
  const server = parseServer(`127.0.0.1:${front.address().port}`);
  const resolver = spfResolver(client, server, { signal: AbortSignal.timeout(30_000), timeoutMs: 300, retries: 0 });
  const outcome = await evaluateSpf({ ip: spfCase.host, mailFrom: spfCase.mailfrom, helo: spfCase.helo }, resolver);
  tally.total++;
  const wanted =
    spfCase.explanation === undefined || outcome.result !== 'fail'
      ? outcome.explanation
      : spfCase.explanation === 'DEFAULT'
        ? undefined
        : spfCase.explanation;
  // Explanations compare without letter case: v-macro-ip6 writes the host in capitals and expects the
  // %{ir} nibbles in capitals; the evaluator writes them in lowercase, as RFC 7208 7.4's examples do.
  if (outcome.explanation !== wanted && outcome.explanation?.toLowerCase() === wanted?.toLowerCase()) tally.caseOnly++;
  if (spfCase.result.includes(outcome.result) && outcome.explanation?.toLowerCase() === wanted?.toLowerCase()) return;
  tally.failures.push(
    `${scenario.description} / ${spfCase.name}: ${outcome.result}${outcome.explanation ? ` "${outcome.explanation}"` : ''} (${outcome.detail}), wanted ${spfCase.result.join(' or ')}${wanted ? ` "${wanted}"` : ''}`,
  );
}

async function runAll(list: SpfScenario[]): Promise<Tally> {
  const client = new DnsClient({ clock: systemClock });
  const tally: Tally = { total: 0, failures: [], caseOnly: 0 };
  try {
    for (const scenario of list) {
      await serve(scenario);
      for (const spfCase of scenario.cases) await check(client, scenario, spfCase, tally);
    }
  } finally {
    await client.close();
  }
  return tally;
}

test('every scenario of the RFC 7208 suite gives an allowed result, zone data served over DNS', async (t) => {
  const tally = await runAll(scenarios);
  t.diagnostic(
    `${tally.total - tally.failures.length} of ${tally.total} scenarios pass (${tally.caseOnly} explanations differ in letter case only)`,
  );
  assert.ok(tally.total >= 200, `only ${tally.total} scenarios read`);
  assert.deepEqual(tally.failures, []);
});

test("the issue's cases (newline in a record, void lookups, macros, ptr, a timeout...) give RFC 7208's one result", async () => {
  const tally = await runAll(issueCases);
  assert.equal(tally.total, 15);
  assert.deepEqual(tally.failures, []);
});

/** A zone for the email-auth kind itself: SPF with macros, an MX whose address never comes, a domain whose TXT times out. */
const PROBE_ZONE: SpfScenario = {
  description: 'email-auth probe',
  cases: [],
  unservable: new Map(),
  timeouts: new Map([
    ['mx.auth.example.test', new Set<string>()],
    ['slow.example.test', new Set(['MX'])],
  ]),
  rrsets: [
    {
      name: 'auth.example.test.',
      type: 'TXT',
      ttl: 60,
      records: ['"v=spf1 exists:%{l}.%{h}.ok.auth.example.test -all"'],
    },
    { name: 'bounces.out.example.test.ok.auth.example.test.', type: 'A', ttl: 60, records: ['127.0.0.2'] },
    { name: 'auth.example.test.', type: 'MX', ttl: 60, records: ['10 mx.auth.example.test.'] },
    { name: '_dmarc.auth.example.test.', type: 'TXT', ttl: 60, records: ['"v=DMARC1; p=reject"'] },
    { name: 'slow.example.test.', type: 'MX', ttl: 60, records: ['10 mx.auth.example.test.'] },
    { name: '_dmarc.slow.example.test.', type: 'TXT', ttl: 60, records: ['"v=DMARC1; p=none"'] },
  ],
};

test('email-auth: macros from mailFrom and helo; a later MX timeout or an SPF timeout keeps every other answer', async () => {
  await serve(PROBE_ZONE);
  const probe = (raw: Record<string, unknown>) =>
    probeOnce(
      emailAuthKind.create(
        specFor(emailAuthKind, {
          sendingIps: ['192.0.2.25'],
          resolver: `127.0.0.1:${front.address().port}`,
          queryTimeout: '300ms',
          queryRetries: 0,
          ...raw,
        }),
        proberDeps(),
      ),
    );
  const auth = await probe({
    domain: 'auth.example.test',
    mailFrom: 'bounces@auth.example.test',
    helo: 'out.example.test',
  });
  assert.equal(auth.observations['spf.192.0.2.25'], 'pass');
  assert.equal(auth.observations['spf.192.0.2.25.reason'], 'matched');
  assert.equal(auth.observations['dmarc.p'], 'reject');
  assert.ok((auth.observations.problems as string[]).some((p) => /^MX: DNS lookup failed/.test(p)));
  assert.equal(auth.error?.code, 'DNS');
  // The default MAIL FROM is postmaster@<domain>: its %{l} names no allowed host.
  const postmaster = await probe({ domain: 'auth.example.test', helo: 'out.example.test' });
  assert.equal(postmaster.observations['spf.192.0.2.25'], 'fail');
  const slow = await probe({ domain: 'slow.example.test' });
  assert.equal(slow.observations['spf.192.0.2.25'], 'temperror');
  assert.equal(slow.observations['spf.reason'], 'dns-timeout');
  assert.equal(slow.observations['spf.records'], null);
  assert.equal(slow.observations['dmarc.p'], 'none');
  assert.deepEqual(slow.observations.mx, ['mx.auth.example.test.']);
});
