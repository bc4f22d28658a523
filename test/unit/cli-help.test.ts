// Every command's own help, and its usage errors in its own words: through the dispatcher, in this process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { allCommands, COMMANDS, dispatch } from '../../src/cli/dispatch.ts';

function collector(): NodeJS.WritableStream & { text: string } {
  const sink = { text: '', write: (chunk: string | Uint8Array) => ((sink.text += chunk.toString()), true) };
  return sink as unknown as NodeJS.WritableStream & { text: string };
}

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = collector();
  const stderr = collector();
  const code = await dispatch(argv, { stdout, stderr });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

// What node:util's parseArgs says; a user must never see it.
const PARSER_TEXT =
  /ERR_PARSE_ARGS|Unknown option '|Option '.*' argument|To specify an option argument|Unexpected argument '/;

const names = allCommands().map((c) => c.name);

test("every command is in the documentation's table of commands", () => {
  assert.deepEqual(names, [
    'run',
    'check',
    'validate',
    'report',
    'lab',
    'schema',
    'alert test',
    'maintenance start',
    'maintenance end',
    'maintenance list',
  ]);
  const pages = [
    'README.md',
    ...(existsSync('docs')
      ? readdirSync('docs', { recursive: true })
          .map(String)
          .filter((name) => name.endsWith('.md'))
          .map((name) => join('docs', name))
      : []),
  ];
  const rows = pages
    .flatMap((page) => readFileSync(page, 'utf8').split('\n'))
    .filter((line) => line.startsWith('| `scaiprobe '));
  for (const name of names)
    assert.ok(
      rows.some((row) => row.startsWith(`| \`scaiprobe ${name}`)),
      `a row for scaiprobe ${name}`,
    );
});

test('scaiprobe --help lists every command with its summary and exits 0; no command at all is a usage error', async () => {
  for (const flag of ['--help', '-h', 'help']) {
    const { code, stdout } = await cli([flag]);
    assert.equal(code, 0, flag);
    for (const command of allCommands())
      assert.match(
        stdout,
        new RegExp(`^  ${command.name} +${command.summary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'),
      );
  }
  const none = await cli([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^scaiprobe — /);
});

for (const command of allCommands()) {
  const words = command.name.split(' ');
  test(`scaiprobe ${command.name} --help: its usage and every option, exit 0`, async () => {
    const { code, stdout, stderr } = await cli([...words, '--help']);
    assert.equal(code, 0, stderr);
    assert.equal(stderr, '');
    assert.ok(stdout.startsWith(`Usage: scaiprobe ${command.name} `), stdout);
    for (const [name, spec] of Object.entries(command.options)) {
      assert.match(
        stdout,
        new RegExp(
          `^  --${name}${spec.type === 'string' ? ` ${(spec.value ?? '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}` : ''} +\\S`,
          'm',
        ),
        `--${name} is described`,
      );
    }
    assert.match(stdout, /^ {2}-h, --help +show this help and exit$/m);
    assert.deepEqual(await cli([...words, '-h']), { code, stdout, stderr });
    assert.deepEqual(await cli(['help', ...words]), { code, stdout, stderr });
  });

  test(`scaiprobe ${command.name} with an unknown option: exit 2, and the options it takes`, async () => {
    const { code, stdout, stderr } = await cli([...words, '--no-such-option']);
    assert.equal(code, 2);
    assert.equal(stdout, '');
    const lines = stderr.split('\n');
    assert.equal(lines[0], `scaiprobe ${command.name}: unknown option --no-such-option`);
    assert.ok(lines[1]?.startsWith(`${command.name} takes: `), lines[1]);
    for (const name of Object.keys(command.options))
      assert.ok(lines[1]?.includes(`--${name}`), `--${name} in ${lines[1]}`);
    assert.equal(lines[2], `scaiprobe ${command.name} --help explains each`);
    assert.doesNotMatch(stderr, PARSER_TEXT);
  });
}

test("a near miss is named; a value missing, a value to a flag, an argument too many: each said in the command's words", async () => {
  const typo = await cli(['check', '--jsno']);
  assert.match(typo.stderr, /^scaiprobe check: unknown option --jsno \(did you mean --json\?\)\n/);
  const cases: Array<[string[], RegExp]> = [
    [['check', '--junit'], /^scaiprobe check: --junit needs a value \(--junit FILE\)\n$/],
    [
      ['check', '--junit', '--json'],
      /^scaiprobe check: --junit needs a value \(--junit FILE\); to give one starting with "-", write --junit=--json\n$/,
    ],
    [['validate', '--lab=yes'], /^scaiprobe validate: --lab takes no value \(got --lab=yes\)\n$/],
    [
      ['validate', 'probes.yaml'],
      /^scaiprobe validate: unexpected argument "probes\.yaml"\nUsage: scaiprobe validate \[--config FILE\|DIR\] \[--lab\]\n$/,
    ],
    [['alert', 'test'], /^scaiprobe alert test: <channel> is missing\nUsage: scaiprobe alert test <channel> /],
    [['maintenance', 'end', '1', '2'], /^scaiprobe maintenance end: unexpected argument "2"\n/],
    [
      ['-x'],
      /^scaiprobe: unknown command "-x"; the commands are run, check, validate, report, lab, schema, alert, maintenance\n/,
    ],
    [['chekc'], /^scaiprobe: unknown command "chekc" \(did you mean check\?\)/],
    [
      ['maintenance', 'stop'],
      /^scaiprobe: unknown maintenance command "stop"; the maintenance commands are start, end, list\nscaiprobe maintenance --help describes them\n$/,
    ],
  ];
  for (const [argv, message] of cases) {
    const { code, stderr } = await cli(argv);
    assert.equal(code, 2, argv.join(' '));
    assert.match(stderr, message, argv.join(' '));
    assert.doesNotMatch(stderr, PARSER_TEXT);
  }
});

test('a group lists its commands: with --help on stdout (exit 0), without a command on stderr (exit 2)', async () => {
  for (const group of COMMANDS.filter((entry) => 'subcommands' in entry)) {
    const help = await cli([group.name, '--help']);
    assert.equal(help.code, 0);
    assert.ok(help.stdout.startsWith(`Usage: scaiprobe ${group.name} <command> [options]\n`));
    for (const sub of 'subcommands' in group ? group.subcommands : [])
      assert.match(help.stdout, new RegExp(`^  scaiprobe ${sub.name} +\\S`, 'm'));
    const bare = await cli([group.name]);
    assert.deepEqual([bare.code, bare.stderr], [2, help.stdout]);
  }
});

test('options after -- are arguments, and --help there is not a request for help', async () => {
  const { code, stderr } = await cli(['maintenance', 'end', '--', '--help']);
  assert.equal(code, 2);
  assert.match(
    stderr,
    /^scaiprobe maintenance end: a window id is a number, as `maintenance start` printed it \(got --help\)\n$/,
  );
});
