// The logger: pino with every known secret redacted.
import pino, { type Logger } from 'pino';
import { Redactor } from './redact.ts';

/**
 * pino JSON logs; every string that reaches a line goes through the redactor,
 * so a secret that leaks into an error message still never reaches the log.
 */
export function createLogger(
  options: { level?: string; secrets?: Iterable<string>; destination?: NodeJS.WritableStream } = {},
): Logger {
  const redactor = new Redactor(options.secrets ?? []);
  return pino(
    {
      level: options.level ?? 'info',
      // The same field names as ScaiSend's own logs: level, message, tenant_id.
      messageKey: 'message',
      base: { service: 'scaiprobe' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => redactor.value(object),
      },
      serializers: {
        err: (error: Error) => redactor.value({ type: error.name, message: error.message, stack: error.stack }),
      },
      hooks: {
        logMethod(args, method) {
          method.apply(
            this,
            args.map((arg) => (typeof arg === 'string' ? redactor.text(arg) : arg)) as Parameters<typeof method>,
          );
        },
      },
    },
    (options.destination ?? pino.destination({ fd: 2, sync: false })) as pino.DestinationStream,
  );
}
