// A sending domain's mail posture beyond SPF/DKIM/DMARC: MTA-STS with its policy and MX coverage, TLS-RPT, and BIMI.
import { mxMatches, MAX_POLICY_BYTES, parsePolicy, parseStsRecords, parseTlsRptRecords } from './mta-sts.ts';
import { dmarcEnforcementProblem, MAX_LOGO_BYTES, parseBimiRecords, svgTinyPsProblems } from './bimi.ts';
import { parseDmarc } from './dmarc.ts';

/** What the checks need from outside: TXT and MX lookups through the probe's resolver, and an HTTPS GET. */
export interface PostureIo {
  txt(name: string): Promise<string[]>;
  mx(domain: string): Promise<string[]>;
  /** GET without following redirects, at most `maxBytes` of body; throws when no answer could be had. */
  get(
    url: string,
    maxBytes: number,
  ): Promise<{ status: number; contentType: string; body: Buffer; truncated: boolean }>;
}

export interface PostureFindings {
  observations: Record<string, unknown>;
  problems: string[];
}

/** A fetched file, or the problem that kept it from being read (status, type, size, TLS, connection). */
async function fetchFile(
  io: PostureIo,
  url: string,
  what: string,
  maxBytes: number,
  types: RegExp,
): Promise<{ text?: string; bytes: number; problem?: string }> {
  try {
    const answer = await io.get(url, maxBytes);
    if (answer.status !== 200) return { bytes: 0, problem: `${what} ${url} answered HTTP ${answer.status}` };
    if (answer.truncated) return { bytes: answer.body.length, problem: `${what} ${url} is over ${maxBytes} bytes` };
    if (!types.test(answer.contentType))
      return { bytes: 0, problem: `${what} ${url} is served as ${answer.contentType || 'no type'}` };
    return { text: answer.body.toString('utf8'), bytes: answer.body.length };
  } catch (error) {
    return { bytes: 0, problem: `${what} ${url} could not be fetched: ${(error as Error).message}` };
  }
}

/** RFC 8461: the `_mta-sts` record, the policy over HTTPS (valid certificate, text/plain), and every MX covered by it. */
export async function checkMtaSts(domain: string, io: PostureIo, found: PostureFindings, port: number): Promise<void> {
  const { observations, problems } = found;
  const record = parseStsRecords(await io.txt(`_mta-sts.${domain}`));
  observations['mtaSts.id'] = record.id ?? null;
  problems.push(...record.problems.map((problem) => `MTA-STS: ${problem}`));
  const host = `mta-sts.${domain}${port === 443 ? '' : `:${port}`}`;
  const file = await fetchFile(
    io,
    `https://${host}/.well-known/mta-sts.txt`,
    'MTA-STS policy',
    MAX_POLICY_BYTES,
    /^text\/plain\b/i,
  );
  observations['mtaSts.policy'] = file.text !== undefined;
  if (file.text === undefined) return void problems.push(`MTA-STS: ${file.problem ?? 'no policy'}`);
  const policy = parsePolicy(file.text);
  Object.assign(observations, {
    'mtaSts.mode': policy.mode ?? null,
    'mtaSts.maxAge': policy.maxAge ?? null,
    'mtaSts.mx': policy.mx,
  });
  problems.push(...policy.problems.map((problem) => `MTA-STS policy: ${problem}`));
  const exchanges = await io.mx(domain);
  const uncovered = exchanges.filter((mx) => !policy.mx.some((pattern) => mxMatches(pattern, mx)));
  observations['mtaSts.mxCovered'] = uncovered.length === 0 && exchanges.length > 0;
  for (const mx of uncovered)
    problems.push(`MTA-STS: MX ${mx} is not covered by the policy (${policy.mx.join(', ') || 'no mx lines'})`);
}

/** RFC 8460: the `_smtp._tls` record and where its reports go. */
export async function checkTlsRpt(domain: string, io: PostureIo, found: PostureFindings): Promise<void> {
  const record = parseTlsRptRecords(await io.txt(`_smtp._tls.${domain}`));
  found.observations['tlsRpt.rua'] = record.rua;
  found.problems.push(...record.problems.map((problem) => `TLS-RPT: ${problem}`));
}

/** BIMI: the `default._bimi` record, its logo as SVG Tiny PS, and DMARC at enforcement. */
export async function checkBimi(domain: string, io: PostureIo, found: PostureFindings): Promise<void> {
  const { observations, problems } = found;
  const record = parseBimiRecords(await io.txt(`default._bimi.${domain}`));
  observations['bimi.logo'] = record.logo ?? null;
  problems.push(...record.problems.map((problem) => `BIMI: ${problem}`));
  const dmarcRecord = (await io.txt(`_dmarc.${domain}`)).find((text) => /^v=DMARC1/i.test(text.trim()));
  const enforcement = dmarcEnforcementProblem(dmarcRecord ? parseDmarc(dmarcRecord) : undefined);
  observations['bimi.dmarcEnforced'] = enforcement === undefined;
  if (enforcement) problems.push(`BIMI: ${enforcement}`);
  if (!record.logo || record.problems.length > 0) return;
  const file = await fetchFile(io, record.logo, 'BIMI logo', 2 * MAX_LOGO_BYTES, /^image\/svg\+xml\b/i);
  if (file.text === undefined) return void problems.push(`BIMI: ${file.problem ?? 'no logo'}`);
  const svg = svgTinyPsProblems(file.text, file.bytes);
  observations['bimi.svgTinyPs'] = svg.length === 0;
  problems.push(...svg.map((problem) => `BIMI logo: ${problem}`));
}
