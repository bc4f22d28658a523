// `scaiprobe schema`: the configuration's JSON Schema, for editors (scaiprobe.schema.json at the repository root).
import { configurationJsonSchema } from '../json-schema.ts';

export const SCHEMA_USAGE = `Usage: scaiprobe schema > scaiprobe.schema.json

Prints the JSON Schema of a configuration file, generated from the schemas the
loader validates with. Editors with YAML language support complete and check keys
from it: put "# yaml-language-server: $schema=<path or URL of the file>" first in a YAML file.
`;

/** Prints the schema (exit 0), or the usage for --help (0) and for anything else given (2). */
export function runSchemaCommand(args: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): number {
  if (args.length > 0 && args.every((arg) => arg === '-h' || arg === '--help')) {
    out.write(SCHEMA_USAGE);
    return 0;
  }
  if (args.length > 0) {
    err.write(`scaiprobe: schema takes no arguments (got ${args.join(' ')})\n\n${SCHEMA_USAGE}`);
    return 2;
  }
  out.write(`${JSON.stringify(configurationJsonSchema(), null, 2)}\n`);
  return 0;
}
