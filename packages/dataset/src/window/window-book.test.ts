import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AlignedBar } from '@perpflow/contracts';
import fc from 'fast-check';
import { makeBars, T0 } from '../test-support/bars.js';
import { WindowBook } from './window-book.js';
import { windowIdString } from '../layout/keys.js';

const DAY = 86_400_000;
const TOPIC = 'perpflow.aligned.bar.v1';
const at = (offset: number, partition = 0) => ({ topic: TOPIC, partition, offset: String(offset) });
const commitOf = (book: WindowBook, partition = 0) =>
  book.safeCommitOffsets().find((o) => o.partition === partition)?.offset;

/** Writes every due window "durably" (what the windower does after its puts succeed). */
function flushDue(book: WindowBook, watermarkMs: number | null, nowMs: number) {
  const written = [];
  for (const due of book.dueWindows(watermarkMs, nowMs)) {
    const snap = book.snapshot(due.windowKey);
    written.push({ due, snap });
    book.markDurable(due.windowKey, snap.version, snap.closed);
  }
  return written;
}

describe('WindowBook', () => {
  it('groups bars per series and UTC day, keeping the last revision per bar time', () => {
    const book = new WindowBook();
    const [a, b] = makeBars({ count: 2, startMs: T0 + DAY - 60_000 }) as [AlignedBar, AlignedBar];
    const eth = makeBars({ count: 1, symbol: 'ETH/USDT:USDT' })[0]!;
    assert.equal(book.add(a, at(0), 0).outcome, 'new');
    assert.equal(book.add(b, at(1), 0).outcome, 'new'); // next day
    assert.equal(book.add(eth, at(2), 0).outcome, 'new');
    assert.equal(book.add({ ...a, revision: 2, close: 1 }, at(3), 0).outcome, 'replaced');
    assert.equal(book.add({ ...a, revision: 1 }, at(4), 0).outcome, 'stale');
    assert.equal(book.add({ ...a, revision: 2, close: 1 }, at(5), 0).outcome, 'duplicate');
    assert.equal(book.stats().windows, 3);
    const key = book.add(a, at(6), 0).windowKey;
    const snap = book.snapshot(key);
    assert.deepEqual(
      snap.latest.map((r) => [r.revision, r.close]),
      [[2, 1]],
    );
    assert.deepEqual(
      snap.superseded.map((r) => r.revision),
      [0, 1],
    );
    assert.deepEqual(snap.kafkaOffsets, [{ topic: TOPIC, partition: 0, firstOffset: '0', lastOffset: '4' }]);
    assert.equal(snap.window.startMs, T0);
  });

  it('names the highest raw positions of its bars, stored ones included, and none once a bar had none', () => {
    const OHLCV = 'perpflow.raw.ohlcv.v1';
    const OI = 'perpflow.raw.open_interest.v1';
    const pos = (ohlcv: number, oi?: number) => [
      { topic: OHLCV, partition: 3, offset: String(ohlcv) },
      ...(oi === undefined ? [] : [{ topic: OI, partition: 3, offset: String(oi) }]),
    ];
    const bars = makeBars({ count: 4 });
    const book = new WindowBook();
    const key = book.add(bars[0]!, at(0), 0, pos(10)).windowKey;
    book.add(bars[1]!, at(1), 0, pos(12, 4));
    book.add(bars[2]!, at(2), 0, pos(11, 7)); // a lower candle position, a higher one of open interest
    book.add(bars[1]!, at(3), 0, pos(99, 99)); // a re-delivery: changes nothing
    book.mergeStored(key, [], [], pos(5, 9)); // the stored window's positions
    assert.deepEqual(book.snapshot(key).rawThrough, [
      { topic: OHLCV, partition: 3, offset: '12' },
      { topic: OI, partition: 3, offset: '9' },
    ]);
    book.add(bars[3]!, at(4), 0, null);
    assert.equal(book.snapshot(key).rawThrough, null, 'a bar without positions');

    // A stored window whose rows came without positions: unknown; one never stored: no effect.
    const other = new WindowBook();
    other.add(bars[0]!, at(0), 0, pos(10));
    other.mergeStored(key, [], [], null);
    assert.equal(other.snapshot(key).rawThrough, null);
    const fresh = new WindowBook();
    fresh.add(bars[0]!, at(0), 0, pos(10));
    fresh.mergeStored(key, [], [], undefined);
    assert.deepEqual(fresh.snapshot(key).rawThrough, [{ topic: OHLCV, partition: 3, offset: '10' }]);
  });

  it('takes a window worked out by the caller as its own, and one positions array shared by many bars', () => {
    const bars = makeBars({ count: 5 });
    const shared = [{ topic: 'perpflow.raw.ohlcv.v1', partition: 1, offset: '40' }];
    const later = [{ topic: 'perpflow.raw.ohlcv.v1', partition: 1, offset: '41' }];
    const plain = new WindowBook();
    const given = new WindowBook();
    bars.forEach((b, i) => {
      const positions = i === 3 ? later : shared;
      const a = plain.add(b, at(i), 0, positions);
      const id = given.windowOf(b);
      const r = given.add(b, at(i), 0, positions, { id, key: windowIdString(id) });
      assert.deepEqual(r, a);
    });
    const key = plain.windowKeys()[0]!;
    assert.deepEqual(given.snapshot(key), plain.snapshot(key));
    assert.deepEqual(plain.snapshot(key).rawThrough, [
      { topic: 'perpflow.raw.ohlcv.v1', partition: 1, offset: '41' },
    ]);
  });

  it('drops older revisions when revision history is off', () => {
    const book = new WindowBook({ keepRevisions: false });
    const a = makeBars({ count: 1 })[0]!;
    book.add({ ...a, revision: 1 }, at(0), 0);
    assert.equal(book.add(a, at(1), 0).outcome, 'stale');
    const key = book.add({ ...a, revision: 2 }, at(2), 0).windowKey;
    assert.deepEqual(book.snapshot(key).superseded, []);
  });

  it('flushes an open window after the flush interval and closes it when the watermark passes end + lateness', () => {
    const book = new WindowBook({ flushIntervalMs: 10_000, allowedLatenessMs: 120_000 });
    const bars = makeBars({ count: 3 });
    for (const [i, b] of bars.entries()) book.add(b, at(i), 1_000);
    assert.deepEqual(book.dueWindows(T0 + 3 * 60_000, 5_000), []);
    const due = book.dueWindows(T0 + 3 * 60_000, 11_000);
    assert.deepEqual(
      due.map((d) => d.reason),
      ['flush'],
    );
    const snap = book.snapshot(due[0]!.windowKey);
    assert.equal(snap.closed, false);
    book.markDurable(due[0]!.windowKey, snap.version, false);
    assert.deepEqual(
      book.dueWindows(T0 + DAY + 60_000, 30_000),
      [],
      'within lateness: still open, nothing new',
    );
    const closing = book.dueWindows(T0 + DAY + 120_000, 30_000);
    assert.deepEqual(
      closing.map((d) => d.reason),
      ['close'],
      'closes even without new rows, so the manifest says closed',
    );
    const last = book.snapshot(closing[0]!.windowKey);
    assert.equal(last.closed, true);
    book.markDurable(closing[0]!.windowKey, last.version, true);
    assert.equal(book.stats().windows, 0, 'a closed, durable window leaves the book');
  });

  it('writes as closed a window evicted while open, once the watermark passes its end', () => {
    const book = new WindowBook({ flushIntervalMs: 0 });
    const [a] = makeBars({ count: 1, startMs: T0 + 60_000 }) as [AlignedBar];
    const key = book.add(a, at(0), 0).windowKey;
    // Written while open, then evicted at once (memory pressure: idle bound 0).
    assert.deepEqual(
      flushDue(book, a.eventTimeMs + 60_000, 1).map((w) => [w.due.reason, w.snap.closed]),
      [['flush', false]],
    );
    assert.equal(book.evictIdle(1, 0), 1);
    assert.equal(book.stats().windows, 0);
    // A bar of the next day moves the watermark past the first day's end.
    const [b] = makeBars({ count: 1, startMs: T0 + DAY + 60_000 }) as [AlignedBar];
    book.add(b, at(1), 2);
    const due = book.dueWindows(b.eventTimeMs + 60_000, 3);
    const first = due.find((d) => d.windowKey === key);
    assert.ok(first, `the evicted first day is not due: ${due.map((d) => d.windowKey)}`);
    assert.equal(first.reason, 'close');
    const snap = book.snapshot(key);
    assert.equal(snap.closed, true);
    assert.equal(snap.storedMerged, false, 'its write merges the stored object first');
    book.markDurable(key, snap.version, true);
    assert.deepEqual(
      book.dueWindows(b.eventTimeMs + 60_000, 4).map((d) => d.windowKey),
      due.filter((d) => d.windowKey !== key).map((d) => d.windowKey),
      'written closed once, then gone from the book',
    );
  });

  it('reopens a closed window for a late bar and says so', () => {
    const book = new WindowBook();
    const [a, b] = makeBars({ count: 2 }) as [AlignedBar, AlignedBar];
    book.add(a, at(0), 0);
    flushDue(book, T0 + DAY, 0);
    assert.equal(book.stats().windows, 0);
    const r = book.add({ ...b, revision: 1 }, at(1), 0);
    assert.equal(r.isNewWindow, true);
    assert.equal(r.late, true);
    assert.equal(book.snapshot(r.windowKey).storedMerged, false, 'must merge the stored object first');
    book.mergeStored(r.windowKey, [a, b], []);
    const snap = book.snapshot(r.windowKey);
    assert.equal(snap.storedMerged, true);
    assert.deepEqual(
      snap.latest.map((x) => x.revision),
      [0, 1],
    );
    assert.deepEqual(
      snap.superseded.map((x) => x.eventTimeMs),
      [b.eventTimeMs],
    );
  });

  it('commits only past offsets whose bars are durable', () => {
    const book = new WindowBook({ flushIntervalMs: 0 });
    const day1 = makeBars({ count: 2 });
    const day2 = makeBars({ count: 1, startMs: T0 + DAY });
    book.add(day1[0]!, at(10), 0);
    book.add(day2[0]!, at(11), 0);
    book.add(day1[1]!, at(12), 0);
    book.noteConsumed(at(13)); // a dead-lettered record
    assert.equal(commitOf(book), '10');
    const keys = book.dueWindows(null, 0).map((d) => d.windowKey);
    const s2 = book.snapshot(keys[1]!);
    book.markDurable(keys[1]!, s2.version, false);
    assert.equal(commitOf(book), '10', 'day 1 still holds offset 10 back');
    const s1 = book.snapshot(keys[0]!);
    book.add({ ...day1[0]!, revision: 1 }, at(14), 0); // arrives while day 1 is being written
    book.markDurable(keys[0]!, s1.version, false);
    assert.equal(commitOf(book), '14', 'the bar added after the snapshot is not durable yet');
    const again = book.snapshot(keys[0]!);
    book.markDurable(keys[0]!, again.version, false);
    assert.equal(commitOf(book), '15');
  });

  it('keeps partitions apart and forgets a revoked one', () => {
    const book = new WindowBook();
    const [a, b] = makeBars({ count: 2 }) as [AlignedBar, AlignedBar];
    book.add(a, at(5, 0), 0);
    book.add({ ...b, symbol: 'ETH/USDT:USDT' }, at(7, 1), 0);
    assert.deepEqual(
      book.safeCommitOffsets().map((o) => [o.partition, o.offset]),
      [
        [0, '5'],
        [1, '7'],
      ],
    );
    book.forgetPartition(TOPIC, 1);
    assert.deepEqual(
      book.safeCommitOffsets().map((o) => o.partition),
      [0],
    );
  });

  it('evicts only durable idle open windows; a later bar makes the window new again', () => {
    const book = new WindowBook({ flushIntervalMs: 0 });
    const [a, b] = makeBars({ count: 2 }) as [AlignedBar, AlignedBar];
    const eth = { ...makeBars({ count: 1 })[0]!, symbol: 'ETH/USDT:USDT' };
    book.add(a, at(0), 1_000);
    book.add(eth, at(1), 1_000);
    const btcKey = book.add(b, at(2), 5_000).windowKey;
    assert.equal(book.evictIdle(100_000, 0), 0, 'nothing is durable yet');
    const snap = book.snapshot(btcKey);
    book.markDurable(btcKey, snap.version, false);
    assert.deepEqual(book.stats(), { windows: 2, rows: 3, dirtyWindows: 1, dirtyRows: 1 });
    assert.equal(book.evictIdle(10_000, 10_000), 0, 'BTC was touched at 5,000');
    assert.equal(book.evictIdle(15_000, 10_000), 1);
    assert.deepEqual(book.stats(), { windows: 1, rows: 1, dirtyWindows: 1, dirtyRows: 1 });
    assert.equal(commitOf(book), '1', 'the ETH bar still holds the commit back');
    assert.equal(book.add(b, at(3), 20_000).isNewWindow, true);
  });
  it('under pressure evicts durable windows the longest without a bar first, only down to the bound', () => {
    const book = new WindowBook({ flushIntervalMs: 0 });
    // Four series, one day window each: 3, 2, 2 and 1 rows, last fed at 4,000, 1,000, 3,000, 2,000.
    const symbols = ['A/USDT:USDT', 'B/USDT:USDT', 'C/USDT:USDT', 'D/USDT:USDT'];
    const rows = [3, 2, 2, 1];
    const fedAt = [4_000, 1_000, 3_000, 2_000];
    const keys = symbols.map((symbol, s) => {
      let key = '';
      for (const [i, bar] of makeBars({ count: rows[s]! }).entries())
        key = book.add({ ...bar, symbol }, at(s * 10 + i), fedAt[s]! - (rows[s]! - 1 - i)).windowKey;
      return key;
    });
    // C stays dirty (a bar after its snapshot): never evicted.
    for (const k of keys) {
      const snap = book.snapshot(k);
      book.markDurable(k, snap.version, false);
    }
    book.add({ ...makeBars({ count: 3 })[2]!, symbol: symbols[2]! }, at(99), 3_500);
    assert.deepEqual(book.stats(), { windows: 4, rows: 9, dirtyWindows: 1, dirtyRows: 3 });
    assert.equal(book.evictLeastRecent(9), 0, 'at the bound: nothing leaves');
    // Over by 3: B (fed at 1,000, 2 rows) then D (2,000, 1 row); A, the most recent, stays.
    assert.equal(book.evictLeastRecent(6), 2);
    assert.deepEqual(book.stats(), { windows: 2, rows: 6, dirtyWindows: 1, dirtyRows: 3 });
    assert.deepEqual(book.windowKeys().sort(), [keys[0]!, keys[2]!].sort());
    // Nothing durable is small enough to help but A: it goes, C (dirty) stays over the bound.
    assert.equal(book.evictLeastRecent(0), 1);
    assert.deepEqual(book.windowKeys(), [keys[2]!]);
    // An evicted open window is new again on its next bar (its writer merges the stored object).
    assert.equal(
      book.add({ ...makeBars({ count: 1 })[0]!, symbol: symbols[1]! }, at(100), 5_000).isNewWindow,
      true,
    );
  });

  it('never lets the commit pass a bar that is not durable (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({
              op: fc.constant('add' as const),
              day: fc.nat({ max: 3 }),
              minute: fc.nat({ max: 5 }),
            }),
            fc.record({ op: fc.constant('flush' as const), which: fc.nat({ max: 3 }) }),
          ),
          { maxLength: 60 },
        ),
        (ops) => {
          const book = new WindowBook({ flushIntervalMs: 0 });
          const durable = new Set<number>();
          const inWindow = new Map<string, number[]>();
          let offset = 0;
          for (const o of ops) {
            if (o.op === 'add') {
              const bar = makeBars({ count: 1, startMs: T0 + o.day * DAY + o.minute * 60_000 })[0]!;
              const r = book.add({ ...bar, revision: offset }, at(offset), 0);
              inWindow.set(r.windowKey, [...(inWindow.get(r.windowKey) ?? []), offset]);
              offset++;
            } else {
              const due = book.dueWindows(null, 1)[o.which];
              if (!due) continue;
              const snap = book.snapshot(due.windowKey);
              for (const off of inWindow.get(due.windowKey) ?? []) durable.add(off);
              inWindow.set(due.windowKey, []);
              book.markDurable(due.windowKey, snap.version, false);
            }
            const commit = Number(commitOf(book) ?? 0);
            for (let k = 0; k < commit; k++) assert.ok(durable.has(k), `commit ${commit} passes offset ${k}`);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
