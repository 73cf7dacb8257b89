import { ExchangeUnavailable } from '@perpflow/contracts';
import { ingestVenue, type PageLimits } from '../venues/index.js';

/**
 * Pagination driven by the returned times, never by ccxt's `paginate` (which
 * clamps a deep `since` silently, and steps funding history by a fixed 8 h).
 */
export interface PageSpec<T> {
  /** Fetch up to `limit` rows with time ≥ since. */
  fetch(sinceMs: number, limit: number): Promise<T[]>;
  timeOf(row: T): number | null;
  limit: number;
  /** The smallest step between rows (1 for irregular series): the next page starts at last + step. */
  stepMs: number;
}

export interface Page<T> {
  rows: T[];
  /** Where the next page starts; persisted as the checkpoint after the rows are durable. */
  nextSinceMs: number;
}

/** Yields pages of rows with time in [fromMs, toMs). Stops at toMs or at the end of the data. */
export async function* pagesOf<T>(spec: PageSpec<T>, fromMs: number, toMs: number): AsyncGenerator<Page<T>> {
  let since = fromMs;
  while (since < toMs) {
    const rows = await spec.fetch(since, spec.limit);
    const inRange: T[] = [];
    let last = -1;
    for (const row of rows) {
      const t = spec.timeOf(row);
      if (t === null) {
        inRange.push(row); // malformed: let the contract reject it with a reason
        continue;
      }
      if (t >= since && t < toMs) inRange.push(row);
      if (t > last) last = t;
    }
    if (rows.length > 0 && last < 0)
      // Not one row with a time: a malformed answer (ccxt parses a broken 200 into
      // rows of undefined without throwing). Treating it as the end of the data
      // would silently skip the rest of the range.
      throw new ExchangeUnavailable(
        `page at ${since} has ${rows.length} rows and no valid time: malformed answer`,
      );
    const next = last >= since ? last + spec.stepMs : toMs;
    yield { rows: inRange, nextSinceMs: Math.min(next, toMs) };
    if (rows.length === 0 || last < since) return;
    since = next;
  }
}

/** Page sizes the venue accepts (ccxt passes `limit` through): its module's `pageLimits`. */
export function pageLimits(exchange: string): PageLimits {
  return ingestVenue(exchange).pageLimits;
}
