// TAP read by Perl's TAP::Parser (Test::Harness, the reference consumer), for tests of `check --format tap`.
import { spawnSync } from 'node:child_process';

export interface ParsedTap {
  version: number;
  plan: string;
  testsPlanned: number;
  testsRun: number;
  passed: number[];
  failed: number[];
  descriptions: string[];
  parseErrors: string[];
  /** Lines the parser did not recognise as TAP. */
  unknown: string[];
  /** Each YAML block, as the parser read it. */
  yaml: unknown[];
}

const SCRIPT = `
use strict; use warnings; use TAP::Parser; use JSON::PP;
local $/; my $tap = <STDIN>;
my $parser = TAP::Parser->new({ tap => $tap });
my (@descriptions, @unknown, @yaml);
while (my $result = $parser->next) {
  push @descriptions, $result->description if $result->is_test;
  push @unknown, $result->as_string if $result->is_unknown;
  push @yaml, $result->data if $result->is_yaml;
}
print JSON::PP->new->canonical->encode({
  version => $parser->version, plan => $parser->plan, testsPlanned => $parser->tests_planned, testsRun => $parser->tests_run,
  passed => [$parser->passed], failed => [$parser->failed], descriptions => \\@descriptions,
  parseErrors => [$parser->parse_errors], unknown => \\@unknown, yaml => \\@yaml,
});
`;

export function parseTap(tap: string): ParsedTap {
  const result = spawnSync('perl', ['-e', SCRIPT], { input: tap, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`perl TAP::Parser failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as ParsedTap;
}
