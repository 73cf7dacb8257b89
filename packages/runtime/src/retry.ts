import { isRetriable } from '@perpflow/contracts';

export interface RetryOptions {
  /** Attempts after the first; default 5. */
  retries?: number;
  /** First backoff in ms; default 200. */
  baseDelayMs?: number;
  /** Upper bound of one backoff in ms; default 30 000. */
  maxDelayMs?: number;
  /** Which errors are worth retrying; default: PerpflowError.retriable. */
  shouldRetry?: (err: unknown, attempt: number) => boolean;
  /** A delay the error itself asks for (e.g. Retry-After); wins over the backoff when larger. */
  requestedDelayMs?: (err: unknown) => number | null;
  /** Called before each sleep: log it, count it. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Stops waiting and rethrows when aborted. */
  signal?: AbortSignal;
  /** Random source in [0, 1); default Math.random. Tests pass a fixed one. */
  random?: () => number;
}

/**
 * Exponential backoff with full jitter: delay = random(0, min(max, base·2^attempt)),
 * never below what the error asked for (Retry-After).
 */
export function backoffDelayMs(attempt: number, options: RetryOptions = {}, err?: unknown): number {
  const base = options.baseDelayMs ?? 200;
  const max = options.maxDelayMs ?? 30_000;
  const random = options.random ?? Math.random;
  const ceiling = Math.min(max, base * 2 ** attempt);
  const jittered = Math.floor(random() * ceiling);
  const requested = err === undefined ? null : (options.requestedDelayMs?.(err) ?? null);
  return requested !== null ? Math.max(requested, jittered) : jittered;
}

export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const retries = options.retries ?? 5;
  const shouldRetry = options.shouldRetry ?? ((err: unknown) => isRetriable(err));
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= retries || !shouldRetry(err, attempt) || options.signal?.aborted) throw err;
      const delay = backoffDelayMs(attempt, options, err);
      options.onRetry?.(err, attempt + 1, delay);
      await sleep(delay, options.signal);
    }
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new Error('aborted'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason ?? new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
