import { pino, type Logger, type LoggerOptions } from 'pino';
import { redactDeep, redactString } from './redact.js';

export type { Logger } from 'pino';
export { isSecretKeyName, REDACTED, redactDeep, redactString } from './redact.js';

export interface LoggerConfig {
  /** Service name, added to every line as `service`. */
  service: string;
  /** pino level; default 'info'. */
  level?: string;
  /** Where lines go; default stdout. Tests pass a stream to read what was logged. */
  destination?: NodeJS.WritableStream;
}

/**
 * Structured JSON logs (pino) with secrets redacted as `[redacted]` by pattern at
 * any depth: values under secret-looking keys (password, secret, token,
 * authorization, credentials, api/access keys) and credentials inside any string
 * (the userinfo of a URL, `Bearer …`), in the logged object, errors and the message.
 */
export function createLogger(config: LoggerConfig): Logger {
  const options: LoggerOptions = {
    level: config.level ?? 'info',
    base: { service: config.service },
    timestamp: pino.stdTimeFunctions.epochTime,
    formatters: {
      level: (label) => ({ level: label }),
      log: (object) => redactDeep(object) as Record<string, unknown>,
    },
    hooks: {
      logMethod(args, method) {
        const redacted = args.map((a) => (typeof a === 'string' ? redactString(a) : a));
        method.apply(this, redacted as Parameters<typeof method>);
      },
    },
  };
  const logger = config.destination
    ? pino(options, config.destination as pino.DestinationStream)
    : pino(options);
  // A child's bindings are serialized once, past formatters.log; children of
  // children inherit this method (pino creates each child from its parent).
  const child = Object.getPrototypeOf(logger).child as Logger['child'];
  logger.child = function redactedChild(this: Logger, bindings, childOptions) {
    return child.call(this, redactDeep(bindings) as typeof bindings, childOptions);
  } as Logger['child'];
  return logger;
}
