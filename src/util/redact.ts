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

  /** Deep copy with secrets replaced in every string (keys included). */
  value<T>(input: T): T {
    if (this.secrets.length === 0) return input;
    if (typeof input === 'string') return this.text(input) as T;
    if (Array.isArray(input)) return input.map((item) => this.value(item)) as T;
    if (input && typeof input === 'object' && !(input instanceof Error)) {
      return Object.fromEntries(Object.entries(input).map(([k, v]) => [this.text(k), this.value(v)])) as T;
    }
    return input;
  }
}
