// Glob matching for names in the configuration (probe names, zone names): `*` is any run of characters.

/**
 * Whether `text` matches `pattern`, where `*` matches any run of characters and everything else itself.
 * Without a regular expression, in at most pattern × text steps, whatever either holds (a name from a
 * target may be long and hostile).
 */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      resume = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++resume;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}
