import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRetriable, PerpflowError } from '@perpflow/contracts';
import {
  DatasetMismatch,
  encodeSymbol,
  IndexMismatch,
  InvalidKeySegment,
  InvalidPullRequest,
  ObjectIntegrityError,
  ParquetLayoutMismatch,
  readBarsParquet,
  WindowContentError,
} from './index.js';

describe('dataset errors join the one family', () => {
  it('each is a PerpflowError with its code, and isRetriable says what its class says', () => {
    const cases: [PerpflowError, string, boolean][] = [
      [new WindowContentError('rows of another series'), 'WINDOW_CONTENT', false],
      [new IndexMismatch('series differ'), 'INDEX_MISMATCH', false],
      [new DatasetMismatch('k', 'row 3 symbol', 'A', 'B'), 'DATASET_MISMATCH', false],
      [new ObjectIntegrityError('sha256 differs', 'k'), 'OBJECT_INTEGRITY', true],
      [new InvalidPullRequest('empty range'), 'INVALID_PULL_REQUEST', false],
      [new InvalidKeySegment('empty'), 'INVALID_KEY_SEGMENT', false],
      [new ParquetLayoutMismatch('not ours'), 'PARQUET_LAYOUT_MISMATCH', false],
    ];
    for (const [err, code, retriable] of cases) {
      assert.ok(err instanceof PerpflowError, err.name);
      assert.equal(err.code, code);
      assert.equal(isRetriable(err), retriable, err.name);
      assert.equal(err.name, err.constructor.name);
    }
  });

  it('the errors thrown by the code are of the family', () => {
    assert.throws(
      () => encodeSymbol(''),
      (e: unknown) => e instanceof InvalidKeySegment && e instanceof PerpflowError,
    );
    assert.throws(
      () => readBarsParquet(new Uint8Array([1, 2, 3])),
      (e: unknown) => e instanceof PerpflowError,
    );
  });
});
