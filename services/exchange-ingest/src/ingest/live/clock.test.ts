import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLOCK_ESTIMATE_MARGIN_MS, CLOCK_ESTIMATE_STALE_MS, ExchangeClock } from './clock.js';

/** A clock whose local time the test sets. */
function clockAt(start: number) {
  let local = start;
  const clock = new ExchangeClock(() => local);
  return {
    clock,
    set: (ms: number) => {
      local = ms;
    },
  };
}

describe('ExchangeClock', () => {
  it('never says a time has passed before it has, however long the read waited (the first read waits behind the first REST round)', () => {
    // The exchange's clock equals ours; the read was asked for at 0, waited in ccxt's throttle,
    // went out and was answered at 1,199, received at 1,200 (venue-live's fresh-CI failure:
    // the offset was taken as +599 ms, 250 ms were taken off, and a candle counted as closed
    // ~350 ms before its close).
    const { clock, set } = clockAt(1_200);
    clock.observe(1_199, 0, 1_200);
    set(60_000);
    assert.ok(clock.passedMs() <= 60_000, `passedMs ${clock.passedMs()} is ahead of the exchange's 60000`);
    assert.equal(clock.passedMs(), 60_000 + 599 - 600);
  });

  it('holds for any offset, round trip and moment of the server read (seeded)', () => {
    let seed = 20_261_207;
    const rand = () => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return seed / 2 ** 32;
    };
    for (let i = 0; i < 10_000; i++) {
      const trueOffset = Math.round((rand() - 0.5) * 10_000);
      const { clock, set } = clockAt(0);
      let local = 0;
      for (let read = 0; read < 3; read++) {
        const sent = local + Math.round(rand() * 400_000);
        const roundTrip = Math.round(rand() ** 3 * 5_000);
        const readAt = sent + rand() * roundTrip; // when, in our time, the server read its clock
        local = sent + roundTrip;
        set(local);
        clock.observe(Math.round(readAt + trueOffset), sent, local);
        const later = local + Math.round(rand() * 60_000);
        set(later);
        assert.ok(
          clock.passedMs() <= later + trueOffset + 1, // +1: the server's time and the offset are whole ms
          `case ${i} read ${read}: passedMs ${clock.passedMs()} ahead of the exchange's ${later + trueOffset}`,
        );
        local = later;
      }
    }
  });

  it('keeps a precise read over a less precise one until it is stale; a more precise one replaces it', () => {
    const { clock, set } = clockAt(0);
    // Precise: offset +1,000 ± 5 ms.
    clock.observe(1_005, 0, 10);
    set(100_000);
    assert.equal(clock.now(), 101_000);
    assert.equal(clock.passedMs(), 101_000 - CLOCK_ESTIMATE_MARGIN_MS);
    // Imprecise (± 1 s) and different: ignored while the precise one is fresh.
    clock.observe(100_000 + 3_000, 99_000, 101_000);
    assert.equal(clock.now(), 101_000);
    // The same imprecise read once the precise one is stale: taken, with its error.
    const staleAt = 10 + CLOCK_ESTIMATE_STALE_MS;
    set(staleAt);
    clock.observe(staleAt - 1_000 + 3_000, staleAt - 2_000, staleAt);
    assert.equal(clock.now(), staleAt + 3_000);
    assert.equal(clock.passedMs(), staleAt + 3_000 - 1_000);
    // A more precise read replaces it at once.
    clock.observe(staleAt + 500, staleAt - 2, staleAt);
    assert.equal(clock.now(), staleAt + 501);
    assert.equal(clock.passedMs(), staleAt + 501 - CLOCK_ESTIMATE_MARGIN_MS);
  });

  it('ignores a read without a server time', () => {
    const { clock } = clockAt(5_000);
    clock.observe(undefined, 4_000, 5_000);
    clock.observe(Number.NaN, 4_000, 5_000);
    assert.equal(clock.now(), 5_000);
    assert.equal(clock.passedMs(), 5_000 - CLOCK_ESTIMATE_MARGIN_MS);
  });
});
