import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FaultInjector, FaultSpecSchema } from './faults.js';

describe('latency fault', () => {
  it('delays answers of the venue it applies to by 0…latencyMs, and ends at 0', () => {
    const f = new FaultInjector(7);
    assert.equal(f.latencyFor('binanceusdm'), 0, 'no delay without the fault');
    f.applyRates(FaultSpecSchema.parse({ venue: 'binanceusdm', latencyMs: 400 }));
    const delays = Array.from({ length: 2_000 }, () => f.latencyFor('binanceusdm'));
    assert.ok(
      delays.every((d) => Number.isInteger(d) && d >= 0 && d <= 400),
      'every delay inside 0…400',
    );
    assert.ok(new Set(delays).size > 100, `delays vary: ${new Set(delays).size} distinct values`);
    assert.equal(f.latencyFor('bybit'), 0, 'another venue is not delayed');
    f.applyRates(FaultSpecSchema.parse({ latencyMs: 0 }));
    assert.equal(f.latencyFor('binanceusdm'), 0, 'latencyMs 0 ends the fault');
  });

  it('refuses a latency outside 0…60,000 ms, naming the field', () => {
    const r = FaultSpecSchema.safeParse({ latencyMs: 60_001 });
    assert.equal(r.success, false);
    assert.deepEqual(r.error?.issues[0]?.path, ['latencyMs']);
  });
});

describe('HTTP fault sequence', () => {
  it('gives the next requests of the venue the queued faults in order, then the rates apply', () => {
    const f = new FaultInjector(11);
    f.applyRates(
      FaultSpecSchema.parse({
        venue: 'binanceusdm',
        httpFaultSequence: ['http_5xx', 'malformed_json', 'html_body', 'hang'],
      }),
    );
    assert.equal(f.httpFault('bybit'), undefined, 'another venue takes none of the sequence');
    const got = Array.from({ length: 6 }, () => f.httpFault('binanceusdm'));
    assert.deepEqual(got, ['http_5xx', 'malformed_json', 'html_body', 'hang', undefined, undefined]);
    assert.deepEqual(
      ['http_5xx', 'malformed_json', 'html_body', 'hang'].map((k) => f.counts.get(k)),
      [1, 1, 1, 1],
    );
  });

  it('queues a rate-limit answer too: rateLimitFault takes it, the HTTP faults after it go to httpFault', () => {
    const f = new FaultInjector(11);
    f.applyRates(
      FaultSpecSchema.parse({
        venue: 'binanceusdm',
        retryAfterS: 3,
        httpFaultSequence: ['rate_limited', 'http_5xx'],
      }),
    );
    // Each request asks rateLimitFault first, then (when admitted) httpFault, as the server does.
    assert.equal(f.httpFault('binanceusdm'), undefined, 'httpFault never takes a queued rate-limit answer');
    assert.deepEqual(f.rateLimitFault('binanceusdm', 0), { kind: 'rate_limited', retryAfterS: 3 });
    assert.equal(f.rateLimitFault('binanceusdm', 0), undefined, 'one answer queued, one given (no rate)');
    assert.equal(f.httpFault('binanceusdm'), 'http_5xx');
    assert.equal(f.rateLimitFault('binanceusdm', 0), undefined);
    assert.equal(f.httpFault('binanceusdm'), undefined);
  });

  it('is emptied by a reset', () => {
    const f = new FaultInjector(11);
    f.applyRates(FaultSpecSchema.parse({ httpFaultSequence: ['http_5xx'] }));
    f.reset();
    assert.equal(f.httpFault('binanceusdm'), undefined);
  });
});
