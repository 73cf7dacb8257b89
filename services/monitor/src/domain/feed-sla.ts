import { type Timeframe, timeframeMs } from '@perpflow/contracts';

export interface FeedSlaSettings {
  timeframe: Timeframe;
  /** 0 = 2 × timeframe. */
  candleSeconds: number;
  openInterestSeconds: number;
  fundingSeconds: number;
}

/**
 * Freshness SLA per `feed` label value of perpflow_feed_freshness_seconds: ohlcv
 * (ingest) and bar (aligned, s3) from the candle SLA, open_interest, funding.
 * Liquidations have none: they arrive in bursts, and their SLA is the websocket
 * stream being connected (perpflow_ingest_stream_connected, a rule of its own).
 */
export function feedFreshnessSlas(s: FeedSlaSettings): Record<string, number> {
  const candle = s.candleSeconds > 0 ? s.candleSeconds : (2 * timeframeMs(s.timeframe)) / 1000;
  return { ohlcv: candle, bar: candle, open_interest: s.openInterestSeconds, funding: s.fundingSeconds };
}
