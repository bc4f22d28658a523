// DMARC policy records, read tag by tag.
import { parseTags } from './tags.ts';

/** A DMARC policy record (`v=DMARC1; p=...`), read tag by tag; what is wrong with it in `errors`. */
export interface Dmarc {
  p?: string;
  sp?: string;
  adkim: 'r' | 's';
  aspf: 'r' | 's';
  rua: string[];
  pct: number;
  errors: string[];
}

export function parseDmarc(record: string): Dmarc {
  const tags = parseTags(record);
  const errors: string[] = [];
  if (!/^v=DMARC1\s*(;|$)/i.test(record.trim())) errors.push('does not start with v=DMARC1');
  const p = tags.p?.toLowerCase();
  if (!p || !['none', 'quarantine', 'reject'].includes(p))
    errors.push(`p=${p ?? '(missing)'} is not none, quarantine or reject`);
  const alignment = (value: string | undefined) => (value?.toLowerCase() === 's' ? 's' : 'r');
  return {
    ...(p ? { p } : {}),
    ...(tags.sp ? { sp: tags.sp.toLowerCase() } : {}),
    adkim: alignment(tags.adkim),
    aspf: alignment(tags.aspf),
    rua: tags.rua ? tags.rua.split(',').map((uri) => uri.trim()) : [],
    pct: tags.pct ? Number(tags.pct) : 100,
    errors,
  };
}
