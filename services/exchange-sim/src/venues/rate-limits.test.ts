import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BinanceLimiter } from './binanceusdm.js';
import { BybitLimiter } from './bybit.js';

describe('BinanceLimiter', () => {
  it('counts weight per wall minute, answers 429 with Retry-After to the window end, then bans with 418, doubling', () => {
    const l = new BinanceLimiter({ weightPerMinute: 10, banAfterRejected: 2, banBaseMs: 1000 });
    const t = 1_700_000_080_000; // 40 s into a minute
    assert.deepEqual(l.check('a', t, 5, undefined), { ok: true, usedWeight: 5 });
    assert.equal(l.check('a', t, 5, undefined).ok, true);
    const r = l.check('a', t + 1, 1, undefined);
    assert.ok(!r.ok && r.status === 429 && r.retryAfterS === 20);
    assert.equal(l.check('a', t + 2, 1, undefined).ok, false);
    const ban = l.check('a', t + 3, 1, undefined);
    assert.ok(!ban.ok && ban.status === 418 && ban.retryAfterS === 1);
    assert.equal(l.check('b', t + 3, 1, undefined).ok, true, 'another IP is not affected');
    const next = t + 20_000; // new minute, ban over
    assert.equal(l.check('a', next, 1, undefined).ok, true);
    for (let i = 0; i < 10; i++) l.check('a', next, 1, undefined);
    l.check('a', next, 1, undefined);
    l.check('a', next, 1, undefined);
    const second = l.check('a', next, 1, undefined);
    assert.ok(!second.ok && second.status === 418 && second.retryAfterS === 2, JSON.stringify(second));
  });

  it('limits fundingRate per 5 minutes separately from weight', () => {
    const l = new BinanceLimiter({ fundingRatePer5m: 2 });
    const t = 1_700_000_100_000;
    assert.equal(l.check('a', t, 1, 'fundingRate').ok, true);
    assert.equal(l.check('a', t, 1, 'fundingRate').ok, true);
    assert.equal(l.check('a', t, 1, 'fundingRate').ok, false);
    assert.equal(l.check('a', t, 1, undefined).ok, true);
  });
});

describe('BybitLimiter', () => {
  it('allows requestsPerSecond × 5 requests in any 5 s per IP, then bans for banMs', () => {
    const l = new BybitLimiter({ requestsPerSecond: 1, banMs: 1_000 });
    for (let t = 5000; t < 5005; t++) assert.equal(l.check('a', t).ok, true);
    assert.deepEqual(l.check('a', 5999), {
      ok: false,
      limit: 5,
      remaining: 0,
      resetMs: 6999,
      bannedUntilMs: 6999,
    });
    assert.equal(l.check('b', 6000).ok, true);
    assert.equal(l.check('a', 6998).ok, false);
    assert.equal(l.check('a', 6999).ok, true);
  });
});
