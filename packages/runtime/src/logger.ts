import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Key names whose values are secrets. Redacted at any depth of a log line
 * (up to four levels), whatever object carries them.
 */
export const SECRET_KEYS = [
  'password',
  'passwd',
  'secret',
  'apiKey',
  'apiSecret',
  'secretAccessKey',
  'accessKeyId',
  'sessionToken',
  'token',
  'authorization',
  'S3_SECRET_ACCESS_KEY',
  'S3_ACCESS_KEY_ID',
  'KAFKA_SASL_PASSWORD',
  'EXCHANGE_API_KEY',
  'EXCHANGE_API_SECRET',
] as const;

function redactPaths(): string[] {
  const paths: string[] = [];
  for (const k of SECRET_KEYS) {
    paths.push(k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`);
  }
  return paths;
}

export interface LoggerConfig {
  /** Service name, added to every line as `service`. */
  service: string;
  /** pino level; default 'info'. */
  level?: string;
  /** Where lines go; default stdout. Tests pass a stream to read what was logged. */
  destination?: NodeJS.WritableStream;
}

/** Structured JSON logs (pino) with secrets redacted as `[redacted]`. */
export function createLogger(config: LoggerConfig): Logger {
  const options: LoggerOptions = {
    level: config.level ?? 'info',
    base: { service: config.service },
    timestamp: pino.stdTimeFunctions.epochTime,
    redact: { paths: redactPaths(), censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
  };
  return config.destination ? pino(options, config.destination as pino.DestinationStream) : pino(options);
}
