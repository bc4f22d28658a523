// The refusal every store gives a database written by a newer scaiprobe.
/** A database written by a newer scaiprobe: this one does not know its schema and must not touch it. */
export class NewerSchemaError extends Error {
  constructor(
    readonly unknown: Array<{ version: number; name: string }>,
    readonly known: number,
    /** What to do instead, naming the store's setting: `point store.path at another file`. */
    remedy: string,
  ) {
    const list = unknown.map((m) => `${m.version} (${m.name})`).join(', ');
    super(
      `it carries migration${unknown.length === 1 ? '' : 's'} ${list}, which this scaiprobe does not know (it knows up to ${known}): run the newer scaiprobe, or ${remedy}`,
    );
    this.name = 'NewerSchemaError';
  }
}
