import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLOCK_SYNC_EVERY_MS } from '../ingest/live/clock.js';
import { BackfillClock, CLOCK_READ_RETRY_MS, UNREAD_CLOCK_ERROR_MS } from './clock.js';

describe('BackfillClock', () => {
  it('until read, judges by our clock less UNREAD_CLOCK_ERROR_MS', () => {
    const c = new BackfillClock(() => 100_000);
    assert.equal(c.clock.passedMs(), 100_000 - UNREAD_CLOCK_ERROR_MS);
  });

  it('reads once for any number of jobs asking at once, then not again until the estimate is stale', async () => {
    let local = 1_000_000;
    const c = new BackfillClock(() => local);
    let reads = 0;
    let answer: (ms: number) => void = () => {};
    const read = () => {
      reads++;
      return new Promise<number>((resolve) => {
        answer = resolve;
      });
    };
    const asks = [c.readIfStale(read), c.readIfStale(read), c.readIfStale(read)];
    local += 40; // the answer arrives 40 ms later, read at 20 ms by a venue clock 90 s behind ours
    answer(1_000_020 - 90_000);
    await Promise.all(asks);
    assert.equal(reads, 1);
    assert.equal(c.clock.now(), local - 90_000);
    assert.equal(c.clock.passedMs(), local - 90_000 - 250, 'error 20 ms, the least margin 250 ms');
    local += CLOCK_SYNC_EVERY_MS - 1;
    await c.readIfStale(read);
    assert.equal(reads, 1, 'not due yet');
    local += 1;
    const again = c.readIfStale(read);
    answer(local - 90_000);
    await again;
    assert.equal(reads, 2, 'due: read again');
  });

  it('a read less precise than the estimate is not repeated page after page', async () => {
    let local = 2_000_000;
    const c = new BackfillClock(() => local);
    let reads = 0;
    let roundTripMs = 20;
    const read = async () => {
      reads++;
      local += roundTripMs;
      return local - roundTripMs / 2 - 90_000;
    };
    await c.readIfStale(read);
    const precise = c.clock.now();
    local += CLOCK_SYNC_EVERY_MS;
    roundTripMs = 4_000; // a slow answer: ExchangeClock keeps the precise estimate
    await c.readIfStale(read);
    assert.equal(reads, 2);
    assert.equal(c.clock.now() - precise, CLOCK_SYNC_EVERY_MS + 4_000, 'the precise estimate kept');
    for (let page = 0; page < 10; page++) await c.readIfStale(read);
    assert.equal(reads, 2, 'no read per page until the next is due');
  });

  it('a failed read rejects, keeps the unread estimate, and is not tried again for CLOCK_READ_RETRY_MS', async () => {
    let local = 5_000_000;
    const c = new BackfillClock(() => local);
    let reads = 0;
    const failing = async () => {
      reads++;
      throw new Error('venue down');
    };
    await assert.rejects(c.readIfStale(failing), /venue down/);
    assert.equal(c.clock.passedMs(), local - UNREAD_CLOCK_ERROR_MS);
    local += CLOCK_READ_RETRY_MS - 1;
    await c.readIfStale(failing);
    assert.equal(reads, 1, 'within the retry pause: no read');
    local += 1;
    await assert.rejects(c.readIfStale(failing), /venue down/);
    assert.equal(reads, 2);
    // An answer that is not a time (undefined from ccxt) leaves the estimate as it was.
    local += CLOCK_READ_RETRY_MS;
    await c.readIfStale(async () => undefined);
    assert.equal(c.clock.passedMs(), local - UNREAD_CLOCK_ERROR_MS);
  });
});
