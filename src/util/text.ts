// Text of values for labels and messages: JSON text that admits when there is none, and stored values as text.

/** JSON.stringify as it behaves: undefined (not text) for undefined, functions and symbols. */
export function jsonText(value: unknown): string | undefined {
  return JSON.stringify(value);
}

/** A string as it is, nothing as the fallback, anything else as its JSON text (a number or boolean reads as itself). */
export function textOf(value: unknown, fallback = ''): string {
  if (value === undefined || value === null) return fallback;
  return typeof value === 'string' ? value : (jsonText(value) ?? fallback);
}
