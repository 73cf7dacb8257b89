import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  liveVersionKey,
  parseLiveVersion,
  canonicalJson,
  datasetVersionId,
  versionDescriptor,
  versionDescriptorKey,
  versionPrefix,
} from './versions.js';

describe('dataset versions', () => {
  const base = { engineVersion: 'quality 0.1.0; align 0.1.0', quality: { a: 1, b: { c: 2 } } };
  it('an id is a function of content, not of key order or timeframe', () => {
    const a = datasetVersionId(versionDescriptor({ ...base, align: { timeframe: '1m', x: 1, y: 2 } }));
    const b = datasetVersionId(
      versionDescriptor({ ...base, quality: { b: { c: 2 }, a: 1 }, align: { y: 2, x: 1, timeframe: '5m' } }),
    );
    assert.match(a, /^dv-[0-9a-f]{16}$/);
    assert.equal(a, b);
  });
  it('any changed value gives another id', () => {
    const a = datasetVersionId(versionDescriptor({ ...base, align: { x: 1 } }));
    assert.notEqual(a, datasetVersionId(versionDescriptor({ ...base, align: { x: 2 } })));
    assert.notEqual(
      a,
      datasetVersionId(versionDescriptor({ ...base, engineVersion: 'other', align: { x: 1 } })),
    );
    assert.notEqual(
      a,
      datasetVersionId(versionDescriptor({ ...base, quality: { a: 1, b: { c: 3 } }, align: { x: 1 } })),
    );
  });
  it('canonical JSON sorts keys at every depth and refuses non-finite numbers', () => {
    assert.equal(canonicalJson({ b: [{ d: 1, c: null }], a: 'x' }), '{"a":"x","b":[{"c":null,"d":1}]}');
    assert.throws(() => canonicalJson({ a: Number.NaN }), /not a JSON number/);
  });
  it('keys stay under the prefix and refuse an id that is not one', () => {
    assert.equal(versionPrefix('datasets', 'dv-0123456789abcdef'), 'datasets/versions/dv-0123456789abcdef');
    assert.equal(
      versionDescriptorKey('datasets/', 'dv-0123456789abcdef'),
      'datasets/versions/dv-0123456789abcdef/version.json',
    );
    for (const bad of ['../x', 'dv-0123', 'dv-0123456789ABCDEF', 'dv-0123456789abcdef/..'])
      assert.throws(() => versionPrefix('datasets', bad), /invalid dataset version/);
  });
  it('the live pin lies in the versions folder and parses only a version id and a time', () => {
    assert.equal(liveVersionKey('datasets/'), 'datasets/versions/live.json');
    const pin = { version: 'dv-0123456789abcdef', pinnedAtMs: Date.UTC(2026, 0, 1) };
    assert.deepEqual(parseLiveVersion(JSON.stringify(pin)), pin);
    assert.throws(() => parseLiveVersion(JSON.stringify({ ...pin, version: '../x' })), /dv- and 16/);
    assert.throws(() => parseLiveVersion('{"version":'), SyntaxError);
  });
});
