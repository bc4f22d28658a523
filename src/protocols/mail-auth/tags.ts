// `k=v; k2=v2` tag lists, as DKIM keys and DMARC policies write them.
/** `k=v; k2=v2` tag lists (DKIM, DMARC). */
export function parseTags(text: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const part of text.split(';')) {
    const index = part.indexOf('=');
    if (index < 0) continue;
    tags[part.slice(0, index).trim().toLowerCase()] = part.slice(index + 1).trim();
  }
  return tags;
}
