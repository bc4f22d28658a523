// Multi-row writes in one round trip: each column sent as one array parameter and unnested into rows.

/** `INSERT INTO table (a, b) SELECT * FROM unnest($1::type[], $2::type[]) <suffix>`. */
export function insertFrom(table: string, columns: Array<[name: string, type: string]>, suffix = ''): string {
  const names = columns.map(([name]) => name).join(', ');
  const arrays = columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ');
  return `INSERT INTO ${table} (${names}) SELECT * FROM unnest(${arrays}) ${suffix}`;
}

/** The rows as one array per column, in the order of `pick`. */
export function columnsOf<T>(rows: readonly T[], pick: Array<(row: T) => unknown>): unknown[][] {
  return pick.map((get) => rows.map(get));
}
