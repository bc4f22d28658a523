// SQLite errors that are conditions of the file or its disk (full, read-only, locked, damaged), not of what was written.

/** Conditions of the database file or its disk, not of the run: the same run can be stored once they pass. */
const STORAGE_CONDITIONS = /^SQLITE_(FULL|IOERR|BUSY|LOCKED|READONLY|CANTOPEN|PROTOCOL|CORRUPT|NOTADB|NOMEM)/;

export function isStorageCondition(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && STORAGE_CONDITIONS.test(code);
}

/** A storage condition in a few words, for /ready and the logs. */
export function describeStorageError(error: unknown, path: string): string {
  const { code = '', message = String(error) } = error as { code?: string; message?: string };
  if (code === 'SQLITE_FULL') return 'disk full';
  if (code.startsWith('SQLITE_READONLY')) return 'read-only';
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'locked by another process';
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') return `damaged (${path}; it is left as it is)`;
  if (code.startsWith('SQLITE_IOERR')) return `I/O error (${code}: ${message})`;
  return message;
}
