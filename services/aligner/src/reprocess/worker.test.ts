import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { prepareWindowWrite } from '@perpflow/dataset';
import { windowPutter } from './worker.js';

type Prepared = ReturnType<typeof prepareWindowWrite>;

/** A window write of one object and its manifest (only the fields the putter reads). */
const windowOf = (n: number): Prepared =>
  ({
    manifestKey: `w${n}/manifest.json`,
    puts: [
      { key: `w${n}/part.parquet`, body: new Uint8Array([n]), contentType: 'application/octet-stream' },
      { key: `w${n}/manifest.json`, body: new Uint8Array([n]), contentType: 'application/json' },
    ],
  }) as unknown as Prepared;

/** A store whose puts wait until the test answers them, in any order. */
function heldStore() {
  const log: string[] = [];
  const waiting = new Map<string, { ok: () => void; fail: (e: Error) => void }>();
  let maxOpen = 0;
  return {
    log,
    waiting,
    maxOpen: () => maxOpen,
    put(key: string) {
      log.push(`put ${key}`);
      return new Promise<void>((ok, fail) => {
        waiting.set(key, {
          ok: () => {
            waiting.delete(key);
            log.push(`done ${key}`);
            ok();
          },
          fail: (e) => {
            waiting.delete(key);
            fail(e);
          },
        });
        maxOpen = Math.max(maxOpen, waiting.size);
      });
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("windowPutter: a job's window writes off the rebuild's path", () => {
  it('keeps up to the limit of windows in flight, each manifest after its object, and settles all', async () => {
    const store = heldStore();
    const steps: string[] = [];
    const putter = windowPutter(store, (s) => steps.push(s), 2);
    await putter.add(windowOf(1));
    await putter.add(windowOf(2));
    // A third window waits: two are in flight.
    let thirdIn = false;
    const third = putter.add(windowOf(3)).then(() => {
      thirdIn = true;
    });
    await tick();
    assert.equal(thirdIn, false, 'the third add returned with two windows in flight');
    assert.deepEqual([...store.waiting.keys()], ['w1/part.parquet', 'w2/part.parquet']);
    // No manifest before its object is durable.
    store.waiting.get('w2/part.parquet')?.ok();
    await tick();
    assert.deepEqual([...store.waiting.keys()], ['w1/part.parquet', 'w2/manifest.json']);
    store.waiting.get('w2/manifest.json')?.ok();
    await third;
    assert.equal(thirdIn, true);
    // Settled waits for every put started, the ones still held included.
    let settled = false;
    const all = putter.settled().then(() => {
      settled = true;
    });
    for (let i = 0; i < 6; i++) {
      await tick();
      if (store.waiting.size === 0) break;
      assert.equal(settled, false, `settled with ${[...store.waiting.keys()]} still held`);
      for (const w of [...store.waiting.values()]) w.ok();
    }
    await all;
    putter.throwIfFailed();
    assert.equal(store.maxOpen(), 2);
    for (const n of [1, 2, 3])
      assert.ok(
        store.log.indexOf(`done w${n}/part.parquet`) < store.log.indexOf(`put w${n}/manifest.json`),
        `window ${n}: ${store.log.join(', ')}`,
      );
    assert.deepEqual(steps.filter((s) => s === 'after-manifest-put').length, 3, 'a step after each manifest');
  });

  it('a failed put fails the next add and throwIfFailed after settling, and its manifest is never put', async () => {
    const store = heldStore();
    const putter = windowPutter(store, () => undefined, 4);
    await putter.add(windowOf(1));
    await putter.add(windowOf(2));
    store.waiting.get('w1/part.parquet')?.fail(new Error('S3 answered 503'));
    await tick();
    await assert.rejects(putter.add(windowOf(3)), /S3 answered 503/);
    store.waiting.get('w2/part.parquet')?.ok();
    await tick();
    store.waiting.get('w2/manifest.json')?.ok();
    await putter.settled();
    assert.throws(() => putter.throwIfFailed(), /S3 answered 503/);
    assert.ok(!store.log.includes('put w1/manifest.json'), store.log.join(', '));
    assert.ok(!store.log.includes('put w3/part.parquet'), 'a window added after the failure was put');
  });
});
