// Opening the SQLite file: pragmas, migrations, and a sentence for a file that cannot be used.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { migrate, NewerSchemaError } from './migrations.ts';

/** The database cannot be opened as it is; the file was not changed. */
export class StoreOpenError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreOpenError';
  }
}

const CORRUPT = new Set(['SQLITE_NOTADB', 'SQLITE_CORRUPT']);

/**
 * Opens (or creates) the file and brings its schema up to date. Nothing is
 * ever deleted or recreated here: a file that is not a database, is damaged,
 * or comes from a newer scaiprobe is refused with a sentence naming it.
 */
export function openDatabase(path: string): Database.Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  let db: Database.Database | undefined;
  try {
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    migrate(db);
    return db;
  } catch (error) {
    db?.close();
    throw new StoreOpenError(openFailure(path, error), { cause: error });
  }
}

function openFailure(path: string, error: unknown): string {
  const { code, message } = error as { code?: string; message?: string };
  if (error instanceof NewerSchemaError)
    return `the database ${path} was written by a newer scaiprobe: ${error.message}`;
  if (code && (CORRUPT.has(code) || code.startsWith('SQLITE_CORRUPT'))) {
    return `the database ${path} is damaged or not a database (${message}); it was left as it is: move it aside to start with an empty one, or restore a backup`;
  }
  return `cannot open the database ${path}: ${message ?? String(error)}`;
}
