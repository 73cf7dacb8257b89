/**
 * Typed errors shared by every service. Modelled on kafkajs: each error has a
 * stable `code`, says whether retrying can help (`retriable`), and keeps its `cause`.
 */
export interface PerpflowErrorOptions {
  cause?: unknown;
  /** Where it happened: exchange, symbol, topic/partition/offset, config key... */
  context?: Record<string, string | number | boolean | null | undefined>;
}

export abstract class PerpflowError extends Error {
  abstract readonly code: string;
  abstract readonly retriable: boolean;
  readonly context: Record<string, string | number | boolean | null | undefined>;

  constructor(message: string, options: PerpflowErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.context = options.context ?? {};
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      retriable: this.retriable,
      message: this.message,
      context: this.context,
    };
  }
}

/** A record broke its data contract. Never retriable: the same bytes fail the same way. */
export class ContractViolation extends PerpflowError {
  readonly code = 'CONTRACT_VIOLATION';
  readonly retriable = false;
  constructor(
    readonly recordKind: string,
    readonly issues: readonly ContractIssue[],
    options: PerpflowErrorOptions = {},
  ) {
    super(`${recordKind}: ${issues.map(formatIssue).join('; ')}`, options);
  }
  /** The first offending field, e.g. `high`. */
  get field(): string {
    return this.issues[0]?.field ?? '';
  }
  /** The first broken rule id, e.g. `ohlc.high_below_low`. */
  get rule(): string {
    return this.issues[0]?.rule ?? '';
  }
}

export interface ContractIssue {
  /** Dotted path of the offending field (`payload.high`), or `(root)`. */
  field: string;
  /** Stable rule id, e.g. `type`, `required`, `finite`, `positive`, `epoch_ms`, `symbol.unified`. */
  rule: string;
  message: string;
  /** The offending value, rendered for humans (truncated). */
  value: string;
}

export function formatIssue(issue: ContractIssue): string {
  return `${issue.field}: ${issue.message} (rule ${issue.rule}, got ${issue.value})`;
}

/** A configuration key is missing or invalid: start-up must stop. */
export class ConfigError extends PerpflowError {
  readonly code = 'CONFIG_INVALID';
  readonly retriable = false;
  constructor(
    readonly key: string,
    message: string,
    options: PerpflowErrorOptions = {},
  ) {
    super(`config ${key}: ${message}`, options);
  }
}

/** The exchange told us to slow down (HTTP 429/418, or a rate-limit code). */
export class RateLimited extends PerpflowError {
  readonly code = 'RATE_LIMITED';
  readonly retriable = true;
  constructor(
    message: string,
    readonly retryAfterMs: number | null,
    options: PerpflowErrorOptions = {},
  ) {
    super(message, options);
  }
}

/** The exchange is down, timed out or answered garbage; a retry with backoff may help. */
export class ExchangeUnavailable extends PerpflowError {
  readonly code = 'EXCHANGE_UNAVAILABLE';
  readonly retriable = true;
}

/** A sink (Kafka, S3, Redis) refused or could not be reached. */
export class SinkUnavailable extends PerpflowError {
  readonly code = 'SINK_UNAVAILABLE';
  readonly retriable = true;
}

/** The exchange refused the request itself (bad symbol, unsupported call, auth): the same request fails the same way. */
export class ExchangeRejected extends PerpflowError {
  readonly code = 'EXCHANGE_REJECTED';
  readonly retriable = false;
}

export function isRetriable(err: unknown): boolean {
  return err instanceof PerpflowError ? err.retriable : false;
}
