/**
 * scripts/status.ts `settled`: when the demo's status view may stop past --for-s. Its
 * notifications come from Alertmanager's webhook, a firing one repeated and a resolved one
 * per alert, in any interleaving across alerts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AlertNote, settled } from '../../scripts/status.js';

const note = (
  status: AlertNote['status'],
  alertname: string,
  stage: string,
  atMs: number,
  symbol = 'ETH/USDT:USDT',
): AlertNote => ({
  status,
  alertname,
  labels: { alertname, stage, exchange: 'binanceusdm', symbol, feed: 'ohlcv' },
  atMs,
});

describe('status view: settle on an alert', () => {
  it('settles at once when no alert is named', () => {
    assert.equal(settled([], undefined), true);
  });

  it('waits until the alert has fired, and until every alert of that name that fired has resolved', () => {
    const notes: AlertNote[] = [note('firing', 'DriftBreach', 'x', 1)];
    assert.equal(settled(notes, 'FeedStale'), false, 'nothing fired yet');
    notes.push(note('firing', 'FeedStale', 'ingest', 2), note('firing', 'FeedStale', 's3', 3));
    assert.equal(settled(notes, 'FeedStale'), false, 'two firing');
    notes.push(note('resolved', 'FeedStale', 'ingest', 4), note('firing', 'FeedStale', 's3', 5));
    assert.equal(settled(notes, 'FeedStale'), false, 's3 still firing (repeated)');
    notes.push(note('resolved', 'FeedStale', 's3', 6));
    assert.equal(settled(notes, 'FeedStale'), true);
    notes.push(note('firing', 'FeedStale', 'ingest', 7));
    assert.equal(settled(notes, 'FeedStale'), false, 'fired again after resolving');
    assert.equal(settled(notes, 'DriftBreach'), false, 'DriftBreach never resolved');
  });

  it('counts only the alerts with the labels given: an early cycle of another symbol does not settle it', () => {
    const match = 'FeedStale symbol=ETH/USDT:USDT';
    const notes: AlertNote[] = [
      note('firing', 'FeedStale', 's3', 1, 'BTC/USDT:USDT'),
      note('resolved', 'FeedStale', 's3', 2, 'BTC/USDT:USDT'),
    ];
    assert.equal(settled(notes, 'FeedStale'), true);
    assert.equal(settled(notes, match), false, 'ETH never fired');
    notes.push(note('firing', 'FeedStale', 'ingest', 3), note('resolved', 'FeedStale', 'ingest', 4));
    assert.equal(settled(notes, match), true);
    assert.equal(settled(notes, 'FeedStale symbol=ETH/USDT:USDT stage=s3'), false, 'no s3 alert of ETH');
  });
});
