import type { ExchangeId, Timeframe } from '@perpflow/contracts';
import type { Logger } from '@perpflow/runtime';
import type { CheckpointStore } from '../../adapters/checkpoints.js';
import { type CcxtExchange, callExchange } from '../../adapters/exchange.js';
import type { RecordSink } from '../../adapters/kafka-sink.js';
import type { IngestMetrics } from '../../metrics.js';
import type { RateGate } from '../gate.js';
import { ExchangeClock } from './clock.js';

export interface LiveOptions {
  timeframe: Timeframe;
  feeds: ReadonlySet<string>;
  candleDelayMs: number;
  oiPollMs: number;
  fundingPollMs: number;
  fundingHistoryPollMs: number;
  /** Closed candles from the exchange's kline websocket (REST fills gaps), or REST polling only. */
  candleSource: 'websocket' | 'rest';
  /** With websocket candles: after each bar close, REST polls the symbols whose candle has not arrived by then. */
  gapCheckMs: number;
  /** Requests in flight per exchange (ccxt's throttler still spaces them by weight). */
  concurrency: number;
}

export interface LiveDeps {
  ex: CcxtExchange;
  exchange: ExchangeId;
  symbols: readonly string[];
  sink: RecordSink;
  checkpoints: CheckpointStore;
  metrics: IngestMetrics;
  logger: Logger;
  now: () => number;
  /** Shared with the backfill worker of the same exchange: one rate budget. */
  gate: RateGate;
}

/** One live loop of an exchange: `run` starts it and returns once `signal` has stopped it. */
export interface LiveLoop {
  run(signal: AbortSignal): Promise<void>;
}

/**
 * Candle rounds go first after each close: while one is running, the open-interest
 * and funding loops wait for it before their next call.
 */
export class CandleRounds {
  private current: Promise<void> | null = null;

  async run(round: Promise<void>): Promise<void> {
    this.current = round;
    await round;
    this.current = null;
  }

  /** Resolves once no candle round is running. */
  readonly waitForRound = async (): Promise<void> => {
    while (this.current) await this.current;
  };
}

/**
 * What every live loop of one exchange shares: its dependencies and options, the
 * exchange's clock, the candle-round priority, and how a REST call, a failed poll and
 * a publish are made.
 */
export class LiveContext {
  readonly clock: ExchangeClock;
  readonly candleRounds = new CandleRounds();
  readonly symbolSet: ReadonlySet<string>;

  constructor(
    readonly deps: LiveDeps,
    readonly options: LiveOptions,
  ) {
    this.clock = new ExchangeClock(deps.now);
    this.symbolSet = new Set(deps.symbols);
  }

  /** One REST call: waits for the gate (Retry-After, weight guard), counts it, maps its error. */
  async call<T>(method: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    await this.deps.gate.pass(signal);
    return callExchange(this.deps.ex, method, this.deps.metrics, fn, this.deps.gate);
  }

  onPollError(feed: string, symbol: string, err: unknown): void {
    const { gate } = this.deps;
    const limited = gate.onError(err);
    this.deps.logger.warn(
      {
        exchange: this.deps.exchange,
        symbol,
        feed,
        err: (err as Error).message,
        pausedUntilMs: limited ? gate.pausedUntilMs : undefined,
      },
      limited
        ? 'rate limited: pausing this exchange until Retry-After'
        : 'poll failed; the next round catches up',
    );
  }

  /** What `publishNormalized` needs. */
  publisher() {
    return { sink: this.deps.sink, metrics: this.deps.metrics, logger: this.deps.logger, now: this.deps.now };
  }
}
