import { createHash } from 'node:crypto';
import type { AlignedBar } from '@perpflow/contracts';
import type { WindowId } from './keys.js';
import type { OffsetRange } from './window-book.js';

export const MANIFEST_VERSION = 1;

/** Written beside each object, after it: what the object holds and where it came from. */
export interface WindowManifest {
  manifestVersion: typeof MANIFEST_VERSION;
  schemaVersion: number;
  key: string;
  window: WindowId;
  rowCount: number;
  minTsMs: number | null;
  maxTsMs: number | null;
  sha256: string;
  bytes: number;
  /** Kafka offsets that fed this window, over all writes of it (merged with the previous manifest). */
  kafkaOffsets: OffsetRange[];
  quality: {
    candleFilled: number;
    openInterestStale: number;
    fundingStale: number;
    openInterestMissing: number;
    revised: number;
  };
  writerVersion: string;
  writtenAtMs: number;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function buildManifest(input: {
  key: string;
  window: WindowId;
  schemaVersion: number;
  rows: readonly AlignedBar[];
  body: Uint8Array;
  kafkaOffsets: OffsetRange[];
  writerVersion: string;
  writtenAtMs: number;
}): WindowManifest {
  const ts = input.rows.map((r) => r.eventTimeMs);
  const count = (f: (r: AlignedBar) => boolean) => input.rows.filter(f).length;
  return {
    manifestVersion: MANIFEST_VERSION,
    schemaVersion: input.schemaVersion,
    key: input.key,
    window: input.window,
    rowCount: input.rows.length,
    minTsMs: ts.length ? ts.reduce((a, b) => Math.min(a, b)) : null,
    maxTsMs: ts.length ? ts.reduce((a, b) => Math.max(a, b)) : null,
    sha256: sha256Hex(input.body),
    bytes: input.body.byteLength,
    kafkaOffsets: input.kafkaOffsets,
    quality: {
      candleFilled: count((r) => r.candleFilled),
      openInterestStale: count((r) => r.openInterestStale),
      fundingStale: count((r) => r.fundingStale),
      openInterestMissing: count((r) => r.openInterest === null),
      revised: count((r) => r.revision > 0),
    },
    writerVersion: input.writerVersion,
    writtenAtMs: input.writtenAtMs,
  };
}
