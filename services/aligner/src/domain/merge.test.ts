import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type Feed, FEEDS } from '@perpflow/contracts';
import fc from 'fast-check';
import { firstLane, MergeQueue, type QueuedMessage } from './merge.js';

/** Four topics' records as (timestamp) in offset order; timestamps follow publish order loosely. */
const lanes = fc.tuple(
  ...FEEDS.map(() => fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 40 })),
) as fc.Arbitrary<number[][]>;

/** The order over complete sequences: what any run must give. */
function reference(seqs: number[][]): string[] {
  const idx = seqs.map(() => 0);
  const out: string[] = [];
  for (;;) {
    const i = firstLane(seqs.map((s, k) => s[idx[k]!]));
    if (i < 0) return out;
    out.push(`${FEEDS[i]}:${idx[i]}`);
    idx[i]!++;
  }
}

const msg = (offset: number, timestampMs: number, receivedAtMs: number): QueuedMessage => ({
  offset: String(offset),
  key: null,
  value: null,
  headers: {},
  timestampMs,
  receivedAtMs,
  bytes: 100,
});

/** The broker's answer, asked at `askedAtMs`: every topic ends where its sequence does. */
function answer(q: MergeQueue, seqs: number[][], askedAtMs: number): void {
  for (const [j, f] of FEEDS.entries()) q.noteEnd(f, { high: BigInt(seqs[j]!.length), start: 0n, askedAtMs });
}

describe('MergeQueue', () => {
  it('gives the order of the complete sequences, however the records are fetched and whenever the broker is asked', () => {
    fc.assert(
      fc.property(
        lanes,
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 7 }), fc.boolean()), {
          minLength: 1,
          maxLength: 200,
        }),
        (seqs, schedule) => {
          const q = new MergeQueue({ maxWaitMs: 1_000_000, appendMarginMs: 0 });
          const fetched = seqs.map(() => 0);
          const out: string[] = [];
          let clock = 100; // after every timestamp: a record is stamped before it is received
          const take = () => {
            const plan = q.plan(clock, 5);
            assert.deepEqual(plan.forced, []);
            for (const { feed, message } of plan.items) out.push(`${feed}:${message.offset}`);
            q.drop(plan.taken);
            return plan;
          };
          // Fetches of random sizes from random topics; sometimes the broker is asked for the ends.
          for (let k = 0; fetched.some((n, i) => n < seqs[i]!.length); k++) {
            const [lane, size, ask] = schedule[k % schedule.length]!;
            const i =
              fetched[lane]! < seqs[lane]!.length ? lane : fetched.findIndex((n, j) => n < seqs[j]!.length);
            clock++;
            const from = fetched[i]!;
            const to = Math.min(seqs[i]!.length, from + size);
            q.push(
              FEEDS[i] as Feed,
              seqs[i]!.slice(from, to).map((t, j) => msg(from + j, t, clock)),
            );
            fetched[i] = to;
            if (ask) answer(q, seqs, clock);
            while (take().items.length > 0);
          }
          // Everything fetched: the broker's answer now lets the rest go.
          clock++;
          answer(q, seqs, clock);
          while (take().items.length > 0);
          assert.deepEqual(out, reference(seqs));
          assert.equal(q.size(), 0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('waits for an empty topic until the broker, asked after the record arrived, shows it complete', () => {
    const q = new MergeQueue({ maxWaitMs: 30_000, appendMarginMs: 0 });
    q.push('ohlcv', [msg(0, 100, 1_000), msg(1, 200, 1_000)]);
    let plan = q.plan(1_001, 100);
    assert.equal(plan.items.length, 0);
    assert.deepEqual(plan.waiting, { feed: 'open_interest', endsAfterMs: 1_000, deadlineMs: 31_000 });
    // An answer asked before the records arrived proves nothing.
    for (const f of FEEDS) q.noteEnd(f, { high: 0n, start: 0n, askedAtMs: 999 });
    assert.equal(q.plan(1_002, 100).items.length, 0);
    // Asked after: open interest has one record not yet fetched; the others are empty.
    for (const f of FEEDS)
      q.noteEnd(f, { high: f === 'open_interest' ? 1n : 0n, start: 0n, askedAtMs: 1_002 });
    plan = q.plan(1_003, 100);
    assert.equal(plan.items.length, 0);
    assert.equal(plan.waiting?.feed, 'open_interest');
    // It arrives, older than the second candle. The first candle goes; the open interest then
    // waits for an answer asked after it arrived (funding and liquidations were proven empty
    // only up to 1,002).
    q.push('open_interest', [msg(0, 150, 1_004)]);
    plan = q.plan(1_005, 100);
    assert.deepEqual(
      plan.items.map((i) => `${i.feed}:${i.message.offset}`),
      ['ohlcv:0'],
    );
    assert.deepEqual(plan.waiting, { feed: 'funding', endsAfterMs: 1_004, deadlineMs: 31_004 });
    q.drop(plan.taken);
    for (const f of FEEDS)
      q.noteEnd(f, {
        high: f === 'ohlcv' ? 2n : f === 'open_interest' ? 1n : 0n,
        start: 0n,
        askedAtMs: 1_006,
      });
    plan = q.plan(1_007, 100);
    assert.deepEqual(
      plan.items.map((i) => `${i.feed}:${i.message.offset}`),
      ['open_interest:0', 'ohlcv:1'],
    );
    assert.equal(plan.waiting, null);
  });

  it('takes a record past an unproven empty topic once the wait bound ran out, and says which', () => {
    const q = new MergeQueue({ maxWaitMs: 30_000, appendMarginMs: 0 });
    q.push('funding', [msg(5, 100, 1_000)]);
    assert.equal(q.plan(30_999, 10).items.length, 0);
    const plan = q.plan(31_000, 10);
    assert.deepEqual(
      plan.items.map((i) => i.message.offset),
      ['5'],
    );
    assert.deepEqual(plan.forced.sort(), ['liquidation', 'ohlcv', 'open_interest']);
  });

  it("drops records a retry or a rebalance fetches again, and those below the state's offsets", () => {
    const q = new MergeQueue({ maxWaitMs: 30_000, appendMarginMs: 0 });
    q.setFloor('ohlcv', 3n);
    q.push('ohlcv', [msg(2, 1, 1), msg(3, 2, 1), msg(4, 3, 1)]);
    q.push('ohlcv', [msg(4, 3, 2), msg(5, 4, 2)]);
    assert.equal(q.size(), 3);
    assert.equal(q.bytesOf('ohlcv'), 300);
    q.setFloor('ohlcv', 5n);
    assert.equal(q.size(), 1);
    for (const f of FEEDS) q.noteEnd(f, { high: 0n, start: 0n, askedAtMs: 10 });
    assert.deepEqual(
      q.plan(11, 10).items.map((i) => i.message.offset),
      ['5'],
    );
  });

  it('on equal timestamps takes the topics in FEEDS order, and keeps each topic in offset order', () => {
    assert.equal(firstLane([5, 5, 5, 5]), 0);
    assert.equal(firstLane([undefined, 7, 6, 6]), 2);
    assert.equal(firstLane([undefined, undefined, undefined, undefined]), -1);
    const q = new MergeQueue({ maxWaitMs: 30_000, appendMarginMs: 0 });
    q.push('liquidation', [msg(0, 10, 100)]);
    q.push('ohlcv', [msg(0, 10, 100), msg(1, 30, 100), msg(2, 20, 100)]); // out of timestamp order
    q.push('open_interest', [msg(0, 25, 100)]);
    q.push('funding', [msg(0, 40, 100)]);
    for (const f of FEEDS) q.noteEnd(f, { high: f === 'ohlcv' ? 3n : 1n, start: 0n, askedAtMs: 101 });
    assert.deepEqual(
      q.plan(102, 10).items.map((i) => `${i.feed}:${i.message.offset}`),
      ['ohlcv:0', 'liquidation:0', 'open_interest:0', 'ohlcv:1', 'ohlcv:2', 'funding:0'],
    );
  });

  it('asks the broker no sooner than the append margin after the timestamp of the record that waits', () => {
    const q = new MergeQueue({ maxWaitMs: 30_000, appendMarginMs: 2_000 });
    q.push('ohlcv', [msg(0, 10_000, 10_050)]);
    const plan = q.plan(10_060, 10);
    assert.deepEqual(plan.waiting, { feed: 'open_interest', endsAfterMs: 12_000, deadlineMs: 40_050 });
    // An answer asked at 11,000 could miss a record stamped 9,500 and appended at 11,200.
    for (const f of FEEDS) q.noteEnd(f, { high: 0n, start: 0n, askedAtMs: 11_000 });
    assert.equal(q.plan(11_001, 10).items.length, 0);
    for (const f of FEEDS) q.noteEnd(f, { high: 0n, start: 0n, askedAtMs: 12_000 });
    assert.equal(q.plan(12_001, 10).items.length, 1);
  });
  it('holds no reference to a record once a durable step took it (a value pins its fetch response)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const q = new MergeQueue({ maxWaitMs: 1_000, appendMarginMs: 0 });
    // A sparse lane (funding) beside a busy one: before, taken slots were let go only after
    // 1,024 of them, so each taken funding record kept its whole fetch response alive.
    // Built in a function of its own: the frame that allocated a value last may hold it.
    const pushFunding = (n: number): WeakRef<object>[] => {
      const refs: WeakRef<object>[] = [];
      for (let i = 0; i < n; i++) {
        const m = { ...msg(i, 1_000 + i, 2_000), value: Buffer.alloc(1_024, i) };
        refs.push(new WeakRef(m.value));
        q.push('funding', [m]);
      }
      return refs;
    };
    const refs = pushFunding(3);
    q.push('ohlcv', [msg(0, 5_000, 2_000)]);
    for (const f of FEEDS)
      q.noteEnd(f, { high: f === 'funding' ? 3n : f === 'ohlcv' ? 1n : 0n, start: 0n, askedAtMs: 2_000 });
    const plan = q.plan(2_000, 100);
    assert.deepEqual(
      plan.items.map((i) => `${i.feed}@${i.message.offset}`),
      ['funding@0', 'funding@1', 'funding@2'],
    );
    q.drop(plan.taken);
    plan.items.length = 0;
    assert.equal(q.size(), 1);
    await new Promise((r) => setImmediate(r)); // WeakRef targets are kept to the end of the job
    gc();
    assert.deepEqual(
      refs.map((r) => r.deref() === undefined),
      [true, true, true],
      'a taken record is still referenced by its lane',
    );
  });
});
