// SIGTERM and SIGINT end a long-running command cleanly; a second signal ends it at once.
const EXIT_OK = 0;
const EXIT_FAILED = 1;

/** Calls `stop` on the first SIGTERM or SIGINT, then exits 0 (1 when stopping failed); a second signal exits 130 at once. */
export function stopOnSignals(stop: () => Promise<void>, stderr: NodeJS.WritableStream = process.stderr): void {
  let signalled = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (signalled) {
        stderr.write('scaiprobe: second signal, exiting now\n');
        process.exit(130);
      }
      signalled = true;
      stop().then(
        () => process.exit(EXIT_OK),
        (error: unknown) => {
          stderr.write(`scaiprobe: stop failed: ${String(error)}\n`);
          process.exit(EXIT_FAILED);
        },
      );
    });
  }
}

/** A long-running command's result: it ends through a signal, never by returning. */
export function untilSignalled(): Promise<number> {
  return new Promise<number>(() => undefined);
}
