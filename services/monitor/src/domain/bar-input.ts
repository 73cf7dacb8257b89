import { type AlignedBar, decodeRecord } from '@perpflow/contracts';

/** One consumed aligned-bar message: the bar, or the contract rule it broke (counted as `invalid`). */
export type BarInput = { bar: AlignedBar } | { invalid: string };

/**
 * The monitor's decode path. Never throws, whatever the bytes: the monitor has no
 * dead-letter topic (the windower quarantines the same records), so a bad record is
 * counted and skipped, and the partition moves on.
 */
export function decodeBarMessage(value: Buffer | null): BarInput {
  const decoded = decodeRecord('aligned_bar', value);
  if (!decoded.ok) return { invalid: `contract.${decoded.error.rule}` };
  return { bar: decoded.value as AlignedBar };
}
