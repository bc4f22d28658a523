// The documentation holds together: a README a newcomer reads in minutes, and no link that leads nowhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';

const pages = [
  'README.md',
  ...readdirSync('docs', { recursive: true })
    .map(String)
    .filter((name) => name.endsWith('.md'))
    .map((name) => join('docs', name)),
];

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_\- ]/gu, '')
    .replace(/ /g, '-');
}

/** The headings of a Markdown page, outside code blocks. */
function anchors(page: string): Set<string> {
  const found = new Set<string>();
  let fenced = false;
  for (const line of readFileSync(page, 'utf8').split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6} (.*)$/.exec(line);
    if (heading?.[1] !== undefined) found.add(anchorOf(heading[1]));
  }
  return found;
}

/** Relative links of a page, outside code blocks: [text](target) and ![alt](target). */
function relativeLinks(page: string): string[] {
  const text = readFileSync(page, 'utf8').replace(/```[\s\S]*?```/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((match) => match[1] ?? '')
    .filter((target) => !/^(https?:|mailto:)/.test(target));
}

test('the README stays short enough to read in five minutes (under 12 KB) and starts with the two commands', () => {
  const readme = readFileSync('README.md', 'utf8');
  assert.ok(Buffer.byteLength(readme) < 12 * 1024, `README.md is ${Buffer.byteLength(readme)} bytes`);
  assert.match(readme, /## Two commands[\s\S]*npm run setup && npm start[\s\S]*npm test/);
});

test('every relative link in the README and docs/ leads to a file that exists, and to a heading there', () => {
  const broken: string[] = [];
  for (const page of pages)
    for (const link of relativeLinks(page)) {
      const [path = '', anchor] = link.split('#');
      const target = path === '' ? page : normalize(join(dirname(page), path));
      if (!existsSync(target)) broken.push(`${page}: ${link} (no ${target})`);
      else if (anchor !== undefined && target.endsWith('.md') && !anchors(target).has(anchor))
        broken.push(`${page}: ${link} (no heading #${anchor} in ${target})`);
    }
  assert.deepEqual(broken, []);
});

test('the screenshots the README shows are committed, and small', () => {
  const images = relativeLinks('README.md').filter((link) => link.endsWith('.png'));
  assert.ok(images.length >= 2, `the README shows the status page and a report (${images.join(', ')})`);
  for (const image of images) assert.ok(statSync(image).size < 300 * 1024, `${image} is under 300 KB`);
});
