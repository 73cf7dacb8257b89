import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { kafkajsIdleFix } from './index.js';

const require = createRequire(import.meta.url);

interface Queue {
  pending: unknown[];
  inflight: Map<number, unknown>;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  push(request: { entry: Record<string, unknown>; expectResponse: boolean; sendRequest: () => void }): void;
  maybeThrottle(ms: number): void;
  checkPendingRequests(): void;
  fulfillRequest(response: { correlationId: number; payload: Buffer | null; size: number }): void;
  destroy(): void;
}
type QueueClass = new (options: Record<string, unknown>) => Queue;

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
// The class kafkajs's connections use, from its own module.
const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as QueueClass;
const newQueue = () =>
  new RequestQueue({
    maxInFlightRequests: null,
    requestTimeout: 30_000,
    enforceRequestTimeout: false,
    clientId: 'idle-fix-test',
    broker: '127.0.0.1:1',
    logger: quiet,
  });
const entry = (correlationId: number) => ({
  apiKey: 1,
  apiName: 'Fetch',
  apiVersion: 11,
  correlationId,
  resolve() {},
  reject() {},
});

describe('kafkajs idle fix', () => {
  it('is installed for kafkajs 2.2.4', () => {
    assert.deepEqual(kafkajsIdleFix(), { kafkajsVersion: '2.2.4', installed: true });
  });

  it('arms no timer when nothing is pending (kafkajs armed a 1 ms one after every response, for good)', () => {
    const queue = newQueue();
    let sent = 0;
    queue.push({ entry: entry(1), expectResponse: true, sendRequest: () => sent++ });
    assert.equal(sent, 1, 'an unthrottled request goes out at once');
    queue.fulfillRequest({ correlationId: 1, payload: null, size: 0 });
    assert.equal(queue.inflight.size, 0);
    assert.equal(queue.throttleCheckTimeoutId, null, 'a timer is armed with nothing pending');
    queue.checkPendingRequests();
    assert.equal(queue.throttleCheckTimeoutId, null, 'a timer is armed with nothing pending');
    queue.destroy();
  });

  it('still sends a throttled request when its throttle ends, and then arms nothing', async () => {
    const queue = newQueue();
    queue.maybeThrottle(50);
    const pushedAt = Date.now();
    const sent = new Promise<number>((resolve) =>
      queue.push({ entry: entry(7), expectResponse: true, sendRequest: () => resolve(Date.now()) }),
    );
    assert.equal(queue.pending.length, 1, 'a throttled request waits');
    assert.notEqual(queue.throttleCheckTimeoutId, null, 'no check is armed for the throttled request');
    const bound = new Promise<'never sent'>((resolve) =>
      setTimeout(() => resolve('never sent'), 5_000).unref(),
    );
    const at = await Promise.race([sent, bound]);
    assert.notEqual(at, 'never sent');
    assert.ok(
      (at as number) - pushedAt >= 49,
      `sent ${(at as number) - pushedAt} ms after, inside its 50 ms throttle`,
    );
    assert.equal(queue.pending.length, 0);
    queue.fulfillRequest({ correlationId: 7, payload: null, size: 0 });
    assert.equal(queue.throttleCheckTimeoutId, null, 'a timer is armed with nothing pending');
    queue.destroy();
  });
});
