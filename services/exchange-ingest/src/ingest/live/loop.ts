import { backoffDelayMs, sleep } from '@perpflow/runtime';
import type { LiveContext } from './context.js';

/** Per-symbol loops spread their calls over this share of their interval, leaving slack for the candle rounds. */
const SPREAD_SHARE = 0.7;

/**
 * Runs `body` every `everyMs` (from the start of one step to the start of the next)
 * until `signal` aborts. A step that fails is logged, told to the rate gate, and
 * retried on the next round.
 */
export async function repeatEvery(
  ctx: LiveContext,
  name: string,
  everyMs: number,
  signal: AbortSignal,
  body: () => Promise<void>,
): Promise<void> {
  const { now, gate, logger, exchange } = ctx.deps;
  while (!signal.aborted) {
    const started = now();
    try {
      await body();
    } catch (err) {
      if (signal.aborted) return;
      gate.onError(err);
      logger.warn(
        { exchange, loop: name, err: (err as Error).message },
        'live loop step failed; retrying next round',
      );
    }
    await sleep(Math.max(0, everyMs - (now() - started)), signal).catch(() => undefined);
  }
}

/** `forEachPaced` options of a per-symbol poll every `intervalMs`: after any candle round in flight. */
export function pollPacing(ctx: LiveContext, intervalMs: number, signal: AbortSignal) {
  return {
    spreadMs: intervalMs * SPREAD_SHARE,
    concurrency: ctx.options.concurrency,
    now: ctx.deps.now,
    signal,
    before: ctx.candleRounds.waitForRound,
  };
}

/** A dropped stream's wait before it reconnects: the shared backoff with full jitter, 0.5 s doubling to 30 s. */
export const reconnectDelayMs = (failures: number): number =>
  backoffDelayMs(failures, { baseDelayMs: 500, maxDelayMs: 30_000 });
