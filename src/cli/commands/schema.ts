// `scaiprobe schema`: the configuration's JSON Schema, for editors (scaiprobe.schema.json at the repository root).
import { configurationJsonSchema } from '../json-schema.ts';
import { defineCommand } from '../command.ts';

export const schemaCommand = defineCommand({
  name: 'schema',
  summary: "print the configuration's JSON Schema (for editors; scaiprobe.schema.json)",
  synopsis: '> scaiprobe.schema.json',
  description: [
    'Prints the JSON Schema of a configuration file, generated from the schemas the loader validates with.',
    'Editors with YAML language support complete and check keys from it: put',
    '"# yaml-language-server: $schema=<path or URL of the file>" first in a YAML file.',
  ].join('\n'),
  options: {},
  run() {
    process.stdout.write(`${JSON.stringify(configurationJsonSchema(), null, 2)}\n`);
    return Promise.resolve(0);
  },
});
