import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FUNDING_SNAP_TOLERANCE_MS } from '@perpflow/contracts';
import { predictedFundingFromCcxt, settledFundingFromCcxt } from './normalize.js';

const stamp = {
  exchange: 'binanceusdm',
  symbol: 'BTC/USDT:USDT',
  receivedAtMs: 1_733_270_400_500,
  source: 'live',
} as const;
const SLOT = 1_733_270_400_000; // 2024-12-04T00:00:00Z

describe('funding settlement times', () => {
  it('snaps a settlement stamped a few ms late to its hour, keeping the venue stamp as event time', () => {
    // Binance's fundingTime arrives +9 ms after the hour (ccxt's recorded responses).
    const r = settledFundingFromCcxt({ fundingRate: 0.0001, timestamp: SLOT + 9 }, stamp);
    assert.equal(r.ok, true);
    if (!r.ok) return;
    assert.deepEqual([r.value.fundingTimeMs, r.value.eventTimeMs], [SLOT, SLOT + 9]);
  });

  it('snaps seconds-late stamps within the tolerance (CoinEx +16 s) and keeps farther ones as reported', () => {
    const late = settledFundingFromCcxt({ fundingRate: 0.0001, timestamp: SLOT + 16_000 }, stamp);
    assert.ok(late.ok && late.value.fundingTimeMs === SLOT);
    const early = settledFundingFromCcxt({ fundingRate: 0.0001, timestamp: SLOT - 3 }, stamp);
    assert.ok(early.ok && early.value.fundingTimeMs === SLOT);
    const off = SLOT + FUNDING_SNAP_TOLERANCE_MS + 1;
    const far = settledFundingFromCcxt({ fundingRate: 0.0001, timestamp: off }, stamp);
    assert.ok(far.ok && far.value.fundingTimeMs === off, 'not on any grid: kept, not moved');
  });

  it('snaps the predicted rate’s settlement time too, and leaves a missing time to the contract', () => {
    const p = predictedFundingFromCcxt(
      { fundingRate: 0.0002, fundingTimestamp: SLOT + 8 * 3_600_000 + 2, timestamp: SLOT + 60_000 },
      stamp,
    );
    assert.ok(p.ok && p.value.fundingTimeMs === SLOT + 8 * 3_600_000);
    const missing = settledFundingFromCcxt({ fundingRate: 0.0001 }, stamp);
    assert.equal(missing.ok, false);
  });
});
