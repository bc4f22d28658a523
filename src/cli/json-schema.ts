// The configuration's JSON Schema, generated from the loader's zod schemas, for editors.
import { z } from 'zod';
import { commonProbeFields, fileSchema } from '../config/schema.ts';
import { EXTRA_SECTIONS } from '../config/load.ts';
import { SECRET_KEYS } from '../config/secrets.ts';
import { PROBE_KINDS } from '../probers/registry.ts';
import { alertsSchema } from '../alerting/config.ts';
import { indicatorsSchema } from '../indicators/thresholds.ts';
import { reportsSchema } from '../reports/config.ts';
import { textOf } from '../util/text.ts';

export const SCHEMA_ID = 'https://scaiprobe.dev/scaiprobe.schema.json';

/** A `${...}` reference anywhere in a string: resolved at load time, so the value is checked only then. */
const HAS_REFERENCE = '\\$\\{[^}]+\\}';
/** A whole-value reference: how a credential must be written. */
const WHOLE_REFERENCE = '^\\s*\\$\\{[^}]+\\}\\s*$';

type Node = Record<string, unknown>;

/**
 * One configuration file as the loader reads it: the core sections, every
 * probe kind (chosen by `kind`), and the sections owned by alerts,
 * indicators and reports. The same zod schemas the loader validates with.
 */
function fileShape(): z.ZodType {
  const kinds = PROBE_KINDS.map((kind) =>
    z.strictObject({ ...commonProbeFields, ...kind.fields.shape, kind: z.literal(kind.kind) }),
  );
  const sections: Record<string, z.ZodType> = {
    alerts: alertsSchema,
    indicators: indicatorsSchema,
    reports: reportsSchema,
  };
  if (Object.keys(sections).sort().join() !== [...EXTRA_SECTIONS].sort().join())
    throw new Error('the JSON Schema misses a top-level section the loader reads');
  return z.strictObject({
    ...fileSchema.shape,
    probes: z.array(z.discriminatedUnion('kind', kinds as unknown as [z.ZodObject, ...z.ZodObject[]])).optional(),
    ...Object.fromEntries(Object.entries(sections).map(([key, schema]) => [key, schema.optional()])),
  });
}

/**
 * What the files hold is checked before `${...}` references are resolved:
 * a string with a reference passes wherever a string goes (its value is
 * checked when it is loaded), and a credential key takes nothing else (the
 * loader refuses an inline secret). Numbers and booleans take no reference:
 * a resolved reference is a string, which the loader refuses there too.
 */
function beforeResolution(node: unknown, key?: string): unknown {
  if (Array.isArray(node)) return node.map((item) => beforeResolution(item));
  if (!node || typeof node !== 'object') return node;
  const out: Node = {};
  for (const [name, child] of Object.entries(node as Node)) {
    const container =
      name === 'properties' || name === '$defs' || name === 'definitions' || name === 'patternProperties';
    out[name] =
      container && child && typeof child === 'object'
        ? Object.fromEntries(
            Object.entries(child as Node).map(([k, v]) => [
              k,
              beforeResolution(v, name === 'properties' ? k : undefined),
            ]),
          )
        : beforeResolution(child);
  }
  if (out.type !== 'string') return out;
  if (key !== undefined && SECRET_KEYS.has(key)) {
    const { pattern: _pattern, format: _format, minLength: _min, maxLength: _max, ...rest } = out;
    return {
      ...rest,
      pattern: WHOLE_REFERENCE,
      description: `${out.description ? `${textOf(out.description)} ` : ''}A credential: write it as "\${ENV_NAME}" or "\${file:/path}", never inline.`,
    };
  }
  const constrained = ['pattern', 'format', 'enum', 'minLength', 'maxLength'].some((k) => k in out);
  if (!constrained) return out;
  const { description, default: fallback, ...rest } = out;
  return {
    ...(description !== undefined ? { description } : {}),
    ...(fallback !== undefined ? { default: fallback } : {}),
    anyOf: [rest, { $ref: '#/definitions/reference' }],
  };
}

/**
 * A probe's keys depend on its `kind`: `if kind is X then X's keys`, rather
 * than one-of-all-kinds, so a validator (and an editor) reports the problems
 * of the kind written instead of why each other kind does not fit.
 */
function byKind(items: Node): Node {
  const branches = (items.oneOf ?? []) as Node[];
  const kindOf = (branch: Node) => (branch.properties as Record<string, Node>).kind?.const as string;
  return {
    type: 'object',
    properties: {
      kind: { type: 'string', enum: branches.map(kindOf), description: 'The probe kind: which keys the probe takes.' },
    },
    required: ['name', 'kind'],
    allOf: branches.map((branch) => ({
      if: { properties: { kind: { const: kindOf(branch) } }, required: ['kind'] },
      then: branch,
    })),
  };
}

/** The JSON Schema (draft-07, what editors' YAML support reads) of one scaiprobe configuration file. */
export function configurationJsonSchema(): Node {
  const generated = z.toJSONSchema(fileShape(), {
    io: 'input',
    target: 'draft-7',
    unrepresentable: 'any',
    reused: 'inline',
  }) as Node;
  const probes = (generated.properties as Record<string, Node>).probes as Node;
  probes.items = byKind(probes.items as Node);
  const { $schema, ...body } = generated;
  return {
    $schema,
    $id: SCHEMA_ID,
    title: 'scaiprobe configuration',
    description:
      "One scaiprobe configuration file (a folder's *.yaml files are loaded together). Generated by `scaiprobe schema` from the schemas the loader validates with; ${...} references are accepted where a string goes.",
    ...(beforeResolution(body) as Node),
    definitions: {
      reference: {
        type: 'string',
        pattern: HAS_REFERENCE,
        description: 'A ${...} reference, resolved when the configuration is loaded (and checked then).',
      },
    },
  };
}
