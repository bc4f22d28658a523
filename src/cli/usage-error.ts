// A command was called wrongly (an unknown probe, a bad option value): the user is told, and the exit code is 2.
export class UsageError extends Error {}
