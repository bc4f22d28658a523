// A command was called wrongly (an unknown probe, a bad option value): the user is told, and the exit code is 2.
export class UsageError extends Error {}

// What a command was asked to do could not be done (the daemon is unreachable, it refused): one sentence, and the exit code is 1.
export class CommandFailed extends Error {}
