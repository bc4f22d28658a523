// Reading a configuration (a file or a folder of them): YAML, secrets, validation and every issue located.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import {
  commonProbeFields,
  defaultsSchema,
  fileSchema,
  logSchema,
  schedulerSchema,
  agentSchema,
  type AgentConfig,
  serverSchema,
  storeSchema,
  type DefaultsConfig,
  type LogConfig,
  type SchedulerConfig,
  type ServerConfig,
  type StoreConfig,
} from './schema.ts';
import { resolveSecrets, type SecretIssue } from './secrets.ts';
import { findKind, PROBE_KINDS } from '../probers/registry.ts';
import type { CommonProbeSpec } from '../core/probe.ts';
import { parseAssertion } from '../core/assertions.ts';

export interface ConfigIssue {
  file: string;
  path: (string | number)[];
  message: string;
  line?: number;
  column?: number;
}

export class ConfigError extends Error {
  constructor(readonly issues: ConfigIssue[]) {
    super(
      `invalid configuration (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${issues.map(formatIssue).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

export type ProbeSpec = CommonProbeSpec & Record<string, unknown> & { file: string; description?: string };

export interface LoadedConfig {
  files: string[];
  server: ServerConfig;
  store: StoreConfig;
  scheduler: SchedulerConfig;
  /** This process as an agent of a fleet (read when store.url is set). */
  agent: AgentConfig;
  log: LogConfig;
  probes: ProbeSpec[];
  /** Resolved secret values, for redaction in logs and stored text. */
  secrets: string[];
  /** Problems that do not stop the configuration from running. */
  warnings: string[];
  /** Top-level sections other parts of the system read (e.g. alerts), validated by their owners. */
  sections: Record<string, unknown>;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_EVERY_MS = 60_000;

export function formatPath(path: (string | number)[]): string {
  return path.reduce<string>(
    (text, part) => (typeof part === 'number' ? `${text}[${part}]` : text ? `${text}.${part}` : part),
    '',
  );
}

export function formatIssue(issue: ConfigIssue): string {
  const where = issue.line ? `${issue.file}:${issue.line}:${issue.column ?? 1}` : issue.file;
  const path = formatPath(issue.path);
  return `${where}: ${path ? `${path}: ` : ''}${issue.message}`;
}

/** Lists the YAML files a --config argument names: the file itself, or every *.yaml / *.yml in the folder. */
export function configFiles(target: string): string[] {
  let stats;
  try {
    stats = statSync(target);
  } catch {
    throw new ConfigError([{ file: target, path: [], message: 'no such file or directory' }]);
  }
  if (!stats.isDirectory()) return [target];
  const files = readdirSync(target)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => join(target, name));
  if (files.length === 0)
    throw new ConfigError([{ file: target, path: [], message: 'the folder holds no .yaml files' }]);
  return files;
}

function locate(doc: Document, lines: LineCounter, path: (string | number)[]): { line?: number; column?: number } {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = doc.getIn(path.slice(0, depth), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) {
      const { line, col } = lines.linePos(node.range[0]);
      return { line, column: col };
    }
  }
  return {};
}

/** For a union (string or object form), the branch that matched the input's type explains the problem best. */
function unwrapUnion(issue: z.core.$ZodIssue): z.core.$ZodIssue[] {
  if (issue.code !== 'invalid_union') return [issue];
  const branches = (issue as { errors: z.core.$ZodIssue[][] }).errors;
  const relevant = branches.find(
    (branch) => !branch.some((inner) => inner.code === 'invalid_type' && inner.path.length === 0),
  );
  if (!relevant) return [issue];
  return relevant.flatMap(unwrapUnion).map((inner) => ({ ...inner, path: [...issue.path, ...inner.path] }));
}

/** `where` is the path whose position is reported, when it is not the issue's own (an unknown key is shown where it is written). */
function zodIssues(
  error: z.ZodError,
  prefix: (string | number)[],
): Array<{ path: (string | number)[]; message: string; where?: (string | number)[] }> {
  return error.issues.flatMap(unwrapUnion).map((issue) => {
    const path = [...prefix, ...(issue.path as (string | number)[])];
    if (issue.code === 'unrecognized_keys') {
      const keys = (issue as { keys: string[] }).keys;
      return {
        path,
        message: `unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}`,
        ...(keys[0] !== undefined ? { where: [...path, keys[0]] } : {}),
      };
    }
    if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) {
      return { path, message: 'is required' };
    }
    return { path, message: issue.message };
  });
}

const probeSchemaCache = new Map<string, z.ZodType>();
function probeSchemaFor(kindName: string): z.ZodType | undefined {
  const kind = findKind(kindName);
  if (!kind) return undefined;
  let schema = probeSchemaCache.get(kindName);
  if (!schema) {
    schema = z.strictObject({ ...commonProbeFields, ...kind.fields.shape });
    probeSchemaCache.set(kindName, schema);
  }
  return schema;
}

interface FileResult {
  file: string;
  /** Paths whose secret reference could not be resolved: follow-on problems there are noise. */
  unresolved: string[];
  sections: z.output<typeof fileSchema>;
  extra: Record<string, unknown>;
  doc: Document;
  lines: LineCounter;
}

/** Alias expansions allowed per file: enough for anchors shared by a few hundred probes, far below an alias bomb. */
export const MAX_ALIAS_COUNT = 1000;

/** Top-level keys beyond the core ones, owned by later parts (alerts, reports); each validates its own. */
export const EXTRA_SECTIONS = new Set(['alerts', 'reports', 'indicators']);

/** A file's YAML as a mapping, with its document for locating issues; undefined (and an issue) when it is not one. */
function readYaml(
  file: string,
  issues: ConfigIssue[],
): { doc: Document; lines: LineCounter; raw: Record<string, unknown> } | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    issues.push({ file, path: [], message: `cannot read: ${(error as Error).message}` });
    return undefined;
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    // Later YAML errors are usually echoes of the first; one precise line helps more.
    const [error] = doc.errors;
    const pos = error?.linePos?.[0];
    const message = (error?.message.split('\n')[0] ?? 'unreadable').replace(/ at line \d+, column \d+:?$/, '');
    issues.push({ file, path: [], message: `YAML: ${message}`, ...(pos ? { line: pos.line, column: pos.col } : {}) });
    return undefined;
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch (error) {
    // yaml throws a ReferenceError when aliases would expand past the bound (a "billion laughs" file),
    // and for an alias whose anchor is not set before it.
    const text = (error as Error).message;
    const message = /excessive alias count/i.test(text)
      ? `aliases expand too far (${text}; at most ${MAX_ALIAS_COUNT} alias expansions are allowed)`
      : text;
    issues.push({ file, path: [], message: `YAML: ${message}` });
    return undefined;
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    issues.push({ file, path: [], message: 'must be a YAML mapping with a "probes" list' });
    return undefined;
  }
  const cycle = cyclePath(raw);
  if (cycle) {
    issues.push({
      file,
      path: cycle,
      message: 'YAML: an alias here refers to a node that contains it, so it never ends',
      ...locate(doc, lines, cycle),
    });
    return undefined;
  }
  return { doc, lines, raw: raw as Record<string, unknown> };
}

function readFile(
  file: string,
  env: NodeJS.ProcessEnv,
  secrets: Set<string>,
  issues: ConfigIssue[],
): FileResult | undefined {
  const yaml = readYaml(file, issues);
  if (!yaml) return undefined;
  const { doc, lines, raw } = yaml;
  const secretIssues: SecretIssue[] = [];
  const resolved = resolveSecrets(raw, {
    env,
    baseDir: dirname(resolve(file)),
    secrets,
    issues: secretIssues,
  }) as Record<string, unknown>;
  for (const issue of secretIssues) issues.push({ file, ...issue, ...locate(doc, lines, issue.path) });
  const extra: Record<string, unknown> = {};
  for (const key of Object.keys(resolved)) {
    if (EXTRA_SECTIONS.has(key)) {
      extra[key] = resolved[key];
      delete resolved[key];
    }
  }
  const parsed = fileSchema.safeParse(resolved);
  if (!parsed.success) {
    // "must be at least 16 characters" after "${X} is set but empty" says the same thing twice.
    const unresolved = new Set(secretIssues.map((issue) => formatPath(issue.path)));
    for (const issue of zodIssues(parsed.error, [])) {
      if (!unresolved.has(formatPath(issue.path)))
        issues.push({
          file,
          path: issue.path,
          message: issue.message,
          ...locate(doc, lines, issue.where ?? issue.path),
        });
    }
  }
  // A file-level problem must not hide the problems of its probes: they are checked with the sections that are valid.
  const sections = parsed.success ? parsed.data : validSections(resolved);
  return { file, sections, extra, doc, lines, unresolved: secretIssues.map((issue) => formatPath(issue.path)) };
}

/** The top-level sections of a file that validate on their own (the others are reported), and its probes list if it is one. */
function validSections(resolved: Record<string, unknown>): z.output<typeof fileSchema> {
  const sections: z.output<typeof fileSchema> = {
    probes: Array.isArray(resolved.probes) ? (resolved.probes as unknown[]) : [],
  };
  const own = <T>(schema: z.ZodType<T>, value: unknown): T | undefined => {
    const result = schema.safeParse(value);
    return result.success ? result.data : undefined;
  };
  const server = own(serverSchema, resolved.server);
  const store = own(storeSchema, resolved.store);
  const scheduler = own(schedulerSchema, resolved.scheduler);
  const agent = own(agentSchema, resolved.agent);
  const log = own(logSchema, resolved.log);
  const defaults = own(defaultsSchema, resolved.defaults);
  return {
    ...sections,
    ...(server ? { server } : {}),
    ...(store ? { store } : {}),
    ...(scheduler ? { scheduler } : {}),
    ...(agent ? { agent } : {}),
    ...(log ? { log } : {}),
    ...(defaults ? { defaults } : {}),
  };
}

function applyDefaults(probe: Record<string, unknown>, defaults: DefaultsConfig | undefined, file: string): ProbeSpec {
  const every = probe.every ?? (probe.cron === undefined ? (defaults?.every ?? DEFAULT_EVERY_MS) : undefined);
  const tenant = probe.tenant ?? defaults?.tenant;
  return {
    ...probe,
    file,
    ...(every !== undefined ? { every } : {}),
    timeout: (probe.timeout as number | undefined) ?? defaults?.timeout ?? DEFAULT_TIMEOUT_MS,
    retries: (probe.retries as number | undefined) ?? defaults?.retries ?? 0,
    retryDelay: (probe.retryDelay as number | undefined) ?? defaults?.retryDelay ?? 1000,
    tags: [...new Set([...(defaults?.tags ?? []), ...((probe.tags as string[] | undefined) ?? [])])],
    ...(tenant !== undefined ? { tenant } : {}),
  } as ProbeSpec;
}

function withImplicitAssertions(expect: CommonProbeSpec['expect'], implicit: string[]): CommonProbeSpec['expect'] {
  const asserted = new Set(expect.map((a) => parseAssertion(a.expr).subject));
  const added = implicit
    .filter((expr) => !asserted.has(parseAssertion(expr).subject))
    .map((expr) => ({ expr, soft: false }));
  return [...expect, ...added];
}

function validateProbe(
  raw: unknown,
  index: number,
  result: FileResult,
  issues: ConfigIssue[],
  warnings: string[],
): ProbeSpec | undefined {
  const { file, doc, lines } = result;
  const at = (path: (string | number)[], message: string, where = path) => {
    // "is required" after "${X} is not set" says the same thing twice.
    const text = formatPath(path);
    if (result.unresolved.some((missing) => missing === text || missing.startsWith(`${text}.`))) return;
    issues.push({ file, path, message, ...locate(doc, lines, where) });
  };
  const prefix = ['probes', index];
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    at(prefix, 'must be a mapping with at least name and kind');
    return undefined;
  }
  const kindName = (raw as { kind?: unknown }).kind;
  if (typeof kindName !== 'string') {
    at([...prefix, 'kind'], `is required (one of ${PROBE_KINDS.map((k) => k.kind).join(', ')})`);
    return undefined;
  }
  const schema = probeSchemaFor(kindName);
  if (!schema) {
    at([...prefix, 'kind'], `unknown kind "${kindName}" (known: ${PROBE_KINDS.map((k) => k.kind).join(', ')})`);
    return undefined;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of zodIssues(parsed.error, prefix)) at(issue.path, issue.message, issue.where);
    return undefined;
  }
  const probe = parsed.data as Record<string, unknown>;
  if (probe.every !== undefined && probe.cron !== undefined)
    at([...prefix, 'cron'], 'give either "every" or "cron", not both');
  if (typeof probe.every === 'number' && probe.every < 100) at([...prefix, 'every'], 'must be at least 100ms');
  const spec = applyDefaults(probe, result.sections.defaults, file);
  spec.expect = withImplicitAssertions(spec.expect, findKind(kindName)?.implicitExpect ?? []);
  if (spec.timeout <= 0) at([...prefix, 'timeout'], 'must be greater than 0');
  for (const problem of findKind(kindName)?.check?.(spec) ?? []) {
    const path = [...prefix, ...problem.path];
    if (problem.warning)
      warnings.push(formatIssue({ file, path, message: problem.message, ...locate(doc, lines, path) }));
    else at(path, problem.message);
  }
  return spec;
}

/**
 * The path to the first value that contains itself, if any. yaml builds such a
 * value from an anchor whose alias sits inside it (`&a` … `<<: *a`), and every
 * walk over the configuration would recurse for ever. Walked with an explicit
 * stack, so a deep file cannot overflow the call stack here either.
 */
function cyclePath(root: object): Array<string | number> | undefined {
  const open = new Set<object>();
  const stack: Array<{ value: object; path: Array<string | number>; entered: boolean }> = [
    { value: root, path: [], entered: false },
  ];
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as { value: object; path: Array<string | number>; entered: boolean };
    if (top.entered) {
      open.delete(top.value);
      stack.pop();
      continue;
    }
    top.entered = true;
    open.add(top.value);
    for (const [key, child] of Object.entries(top.value as Record<string, unknown>)) {
      if (!child || typeof child !== 'object') continue;
      const path = [...top.path, Array.isArray(top.value) ? Number(key) : key];
      if (open.has(child)) return path;
      stack.push({ value: child, path, entered: false });
    }
  }
  return undefined;
}

function mergeSection<K extends 'server' | 'store' | 'scheduler' | 'agent' | 'log'>(
  results: FileResult[],
  key: K,
  issues: ConfigIssue[],
): FileResult['sections'][K] | undefined {
  const owners = results.filter((r) => r.sections[key] !== undefined);
  if (owners.length > 1) {
    for (const owner of owners.slice(1)) {
      issues.push({
        file: owner.file,
        path: [key],
        message: `is also set in ${owners[0]?.file}; give each top-level section in one file only`,
        ...locate(owner.doc, owner.lines, [key]),
      });
    }
  }
  return owners[0]?.sections[key];
}

/**
 * Reads and validates every file of a configuration, collecting every problem
 * rather than stopping at the first file or section that has one: the config
 * holds what is valid, `issues` the rest. Throws only when there is nothing to read.
 */
export function readConfig(
  target: string,
  env: NodeJS.ProcessEnv = process.env,
): { config: LoadedConfig; issues: ConfigIssue[]; files: string[] } {
  const files = configFiles(target);
  const issues: ConfigIssue[] = [];
  const secrets = new Set<string>();
  const results = files
    .map((file) => readFile(file, env, secrets, issues))
    .filter((r): r is FileResult => r !== undefined);

  const warnings: string[] = [];
  const probes = collectProbes(results, issues, warnings);
  const sections = mergeExtraSections(results, issues);
  const server = mergeSection(results, 'server', issues) ?? serverSchema.parse({});
  const store = mergeSection(results, 'store', issues) ?? storeSchema.parse({});
  const scheduler = mergeSection(results, 'scheduler', issues) ?? schedulerSchema.parse({});
  const agent = mergeSection(results, 'agent', issues) ?? agentSchema.parse({});
  const log = mergeSection(results, 'log', issues) ?? logSchema.parse({});
  for (const probe of probes) {
    if (probe.every !== undefined && probe.timeout > probe.every) {
      warnings.push(
        `${probe.file}: probe "${probe.name}": timeout ${probe.timeout}ms is longer than its interval ${probe.every}ms; runs will be skipped while one is in flight`,
      );
    }
  }
  const config = {
    files: files.map((f) => relative(process.cwd(), f) || f),
    server,
    store,
    scheduler,
    agent,
    log,
    probes,
    secrets: [...secrets],
    warnings,
    sections,
  };
  return { config, issues, files };
}

/** Every file's valid probes, names unique across files; what is wrong goes to issues, what is doubtful to warnings. */
function collectProbes(results: FileResult[], issues: ConfigIssue[], warnings: string[]): ProbeSpec[] {
  const probes: ProbeSpec[] = [];
  const seen = new Map<string, string>();
  const consumers: Array<{ spec: ProbeSpec; result: FileResult; index: number }> = [];
  for (const result of results) {
    result.sections.probes.forEach((raw, index) => {
      // Names are compared as written, so a duplicate shows even when either probe has other problems.
      const name = (raw as { name?: unknown } | null)?.name;
      const earlier = typeof name === 'string' ? seen.get(name) : undefined;
      if (earlier) {
        const path = ['probes', index, 'name'];
        issues.push({
          file: result.file,
          path,
          message: `"${String(name)}" is already the name of a probe in ${earlier}; names must be unique`,
          ...locate(result.doc, result.lines, path),
        });
      } else if (typeof name === 'string') seen.set(name, result.file);
      const spec = validateProbe(raw, index, result, issues, warnings);
      if (spec && !earlier) {
        probes.push(spec);
        consumers.push({ spec, result, index });
      }
    });
  }
  // A probe that reads another's output (a browser probe's mail probe) should name one that exists;
  // it still loads (its runs say what is missing), as a probe may be configured before the one it reads.
  for (const { spec, result, index } of consumers) {
    for (const { probe, path } of findKind(spec.kind)?.consumes?.(spec) ?? []) {
      const where = ['probes', index, ...path];
      const message = `no probe named "${probe}": this probe will find nothing of it to read`;
      if (!seen.has(probe))
        warnings.push(
          formatIssue({ file: result.file, path: where, message, ...locate(result.doc, result.lines, where) }),
        );
    }
  }
  return probes;
}

/** The sections later parts own (alerts, reports, indicators), each given in one file only. */
function mergeExtraSections(results: FileResult[], issues: ConfigIssue[]): Record<string, unknown> {
  const sections: Record<string, unknown> = {};
  for (const result of results) {
    for (const [key, value] of Object.entries(result.extra)) {
      if (key in sections)
        issues.push({
          file: result.file,
          path: [key],
          message: 'is also set in another file; give each top-level section in one file only',
          ...locate(result.doc, result.lines, [key]),
        });
      sections[key] = value;
    }
  }
  return sections;
}

/** Issues named by the files as listed (whichever spelling of a path found them), in file order, then by line. */
export function sortIssues(files: string[], issues: ConfigIssue[]): ConfigIssue[] {
  const resolved = files.map((f) => resolve(f));
  const order = (file: string) => resolved.indexOf(resolve(file));
  return issues
    .map((issue) => ({ ...issue, file: files[order(issue.file)] ?? issue.file }))
    .sort(
      (a, b) => order(a.file) - order(b.file) || (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0),
    );
}

/** Loads and validates every file of a configuration; throws ConfigError listing every problem at once. */
export function loadConfig(target: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const { config, issues, files } = readConfig(target, env);
  if (issues.length > 0) throw new ConfigError(sortIssues(files, issues));
  return config;
}

/**
 * Line and column for issues of a top-level section validated outside the
 * loader (alerts, indicators, reports): the file that holds the section is
 * read again for its positions. Paths start with the section's key.
 */
export function locateSectionIssues(
  files: string[],
  section: string,
  issues: Array<{ path: (string | number)[]; message: string }>,
): ConfigIssue[] {
  for (const file of files) {
    const lines = new LineCounter();
    let doc: Document;
    try {
      doc = parseDocument(readFileSync(file, 'utf8'), { lineCounter: lines });
    } catch {
      continue;
    }
    if (!doc.has(section)) continue;
    return issues.map((issue) => ({ file, ...issue, ...locate(doc, lines, issue.path) }));
  }
  return issues.map((issue) => ({ file: files[0] ?? '(config)', ...issue }));
}
