// Redactor: every known secret value replaced in text.
/** Replaces every known secret value in text; used on everything that reaches logs or the store. */
export class Redactor {
  private readonly secrets: string[];
  constructor(secrets: Iterable<string>) {
    // A secret inside a URL (userinfo, query) is often seen percent-encoded once a URL object serializes it.
    const forms = [...secrets].flatMap((s) => [s, encodeURIComponent(s)]);
    // Longest first, so a secret that contains another is replaced whole.
    this.secrets = [...new Set(forms)].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  }

  text(value: string): string {
    let out = value;
    for (const secret of this.secrets) if (out.includes(secret)) out = out.split(secret).join('[redacted]');
    return out;
  }

  /**
   * Secrets replaced in every string (keys included). Only the parts that held
   * a secret are copied; anything without one is returned as it was, so the
   * common case (a run that carries no secret) allocates nothing.
   */
  value<T>(input: T): T {
    if (this.secrets.length === 0) return input;
    if (typeof input === 'string') return this.text(input) as T;
    if (Array.isArray(input)) return this.array(input) as T;
    if (input && typeof input === 'object' && !(input instanceof Error))
      return this.object(input as Record<string, unknown>) as T;
    return input;
  }

  private array(input: unknown[]): unknown[] {
    let copy: unknown[] | undefined;
    for (let i = 0; i < input.length; i++) {
      const item = input[i];
      const redacted = this.value(item);
      if (redacted !== item) (copy ??= input.slice())[i] = redacted;
    }
    return copy ?? input;
  }

  private object(input: Record<string, unknown>): Record<string, unknown> {
    const keys = Object.keys(input);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] ?? '';
      const value = input[key];
      const redactedKey = this.text(key);
      const redactedValue = this.value(value);
      if (redactedKey === key && redactedValue === value) continue;
      // The first entry with a secret: keep the ones before, redact the rest.
      const entries: Array<[string, unknown]> = keys.slice(0, i).map((earlier) => [earlier, input[earlier]]);
      entries.push([redactedKey, redactedValue]);
      for (const later of keys.slice(i + 1)) entries.push([this.text(later), this.value(input[later])]);
      return Object.fromEntries(entries);
    }
    return input;
  }
}
