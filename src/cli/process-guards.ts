// Keeps the daemon alive through an error nobody caught, and says so with the stack.
import type { Logger } from 'pino';

/**
 * A daemon that exits on one stray rejection stops every probe and alert.
 * Errors that escape every handler are logged with their stack and the
 * process keeps serving; the returned function removes the guards.
 */
export function guardProcess(logger: Logger, target: NodeJS.Process = process): () => void {
  const onRejection = (reason: unknown) =>
    logger.error({ err: reason }, 'unhandled promise rejection; scaiprobe keeps running');
  const onException = (error: Error) => logger.error({ err: error }, 'uncaught exception; scaiprobe keeps running');
  target.on('unhandledRejection', onRejection);
  target.on('uncaughtException', onException);
  return () => {
    target.off('unhandledRejection', onRejection);
    target.off('uncaughtException', onException);
  };
}
