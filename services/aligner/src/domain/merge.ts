import { type Feed, FEEDS } from '@perpflow/contracts';
import type { ConsumedMessage } from './batch.js';

/**
 * The order in which the engine takes the records of partition p of the four raw topics:
 * every topic's records in offset order, and across topics by record timestamp (the
 * ingest's publish time), the earliest head first; on equal timestamps the feed that
 * comes first in FEEDS (candles, open interest, funding, liquidations).
 *
 * That order is a function of the four sequences alone, never of fetch sizes, timing or
 * backlog, as long as a head is taken only when every topic either has a head or is known
 * to hold nothing more that was published before it (see MergeQueue). The live aligner and
 * the rebuild from the archive both use `firstLane`, so they feed the engine alike.
 */
export function firstLane(headTimestamps: readonly (number | undefined)[]): number {
  let best = -1;
  for (let i = 0; i < headTimestamps.length; i++) {
    const t = headTimestamps[i];
    if (t === undefined) continue;
    if (best < 0 || t < (headTimestamps[best] as number)) best = i;
  }
  return best;
}

/** A raw record waiting in its topic's lane. */
export interface QueuedMessage extends ConsumedMessage {
  /** The record's Kafka timestamp, or the time it reached the aligner if that is earlier. */
  timestampMs: number;
  /** When the aligner received its batch (the aligner's clock). */
  receivedAtMs: number;
  /** Key + value + headers, for the lane's byte bound. */
  bytes: number;
}

/** What the broker said of one topic-partition, and when it was asked. */
export interface LaneEnd {
  /** The next offset the log will give (high watermark). */
  high: bigint;
  /** Where this group's consumption of it starts when nothing of it was processed yet. */
  start: bigint;
  /** When the question was sent (the aligner's clock): the answer covers every record appended before. */
  askedAtMs: number;
}

interface Lane {
  feed: Feed;
  /** Taken records' slots are emptied at once: a value pins its whole fetch response (MiBs). */
  queue: (QueuedMessage | undefined)[];
  /** Index of the lane's head in `queue` (records before it are taken). */
  head: number;
  /** The offset after the last record queued or processed; null until known. */
  next: bigint | null;
  bytes: number;
  end: LaneEnd | null;
}

/** A step: the records to give the engine now, in merged order. */
export interface MergePlan {
  items: { feed: Feed; message: QueuedMessage }[];
  /** Records taken per feed (for `drop` once the step is durable). */
  taken: Record<Feed, number>;
  /** Feeds taken past without proof they were complete (the wait bound ran out). */
  forced: Feed[];
  /**
   * Set when the plan stopped at an empty lane: the broker's ends must be asked at or after
   * `endsAfterMs` (the receipt of the record that waits, or its timestamp plus the append
   * margin), or the wait bound runs out at `deadlineMs`.
   */
  waiting: { feed: Feed; endsAfterMs: number; deadlineMs: number } | null;
}

/**
 * The four lanes of one partition. Records go in as batches arrive (`push`), a step takes
 * the longest prefix of the merged order that is safe now (`plan`), and leaves once its
 * outputs are durable (`drop`).
 *
 * Safe: the head h of lane A is taken when every other lane has a head (then the merge
 * rule decides), or is empty and provably complete up to h: the broker's high watermark,
 * asked after h reached the aligner and at least `appendMarginMs` after h's timestamp, is
 * not past the lane's next offset. A record stamped before h and appended by then (a
 * producer stamps a record when it sends it) is in that answer; one appended later is
 * passed over and follows h. If the proof does not come
 * within `maxWaitMs` of h's receipt (the broker does not answer, or the lane's fetches
 * stall), h is taken anyway, the plan says which feed was `forced`, and the caller counts
 * and logs it.
 */
export class MergeQueue {
  private readonly lanes: Lane[];
  private readonly maxWaitMs: number;
  private readonly appendMarginMs: number;

  constructor(o: { maxWaitMs: number; appendMarginMs: number }) {
    this.maxWaitMs = o.maxWaitMs;
    this.appendMarginMs = o.appendMarginMs;
    this.lanes = FEEDS.map((feed) => ({ feed, queue: [], head: 0, next: null, bytes: 0, end: null }));
  }

  /**
   * Queues a batch's records at or after the lane's next offset (a batch fetched again
   * after a retry or a rebalance repeats records). Returns how many were new.
   */
  push(feed: Feed, messages: readonly QueuedMessage[]): number {
    const lane = this.lane(feed);
    let added = 0;
    for (const m of messages) {
      const offset = BigInt(m.offset);
      if (lane.next !== null && offset < lane.next) continue;
      lane.queue.push(m);
      lane.bytes += m.bytes;
      lane.next = offset + 1n;
      added++;
    }
    return added;
  }

  /**
   * The offset the partition's state has processed up to (null: nothing yet). Records below
   * it leave the lane; an unknown next offset becomes it.
   */
  setFloor(feed: Feed, floor: bigint | null): void {
    const lane = this.lane(feed);
    if (floor === null) return;
    const keep = lane.queue
      .slice(lane.head)
      .filter((m): m is QueuedMessage => m !== undefined && BigInt(m.offset) >= floor);
    lane.queue = keep;
    lane.head = 0;
    lane.bytes = keep.reduce((n, m) => n + m.bytes, 0);
    if (lane.next === null || lane.next < floor) lane.next = floor;
  }

  noteEnd(feed: Feed, end: LaneEnd): void {
    const lane = this.lane(feed);
    if (!lane.end || end.askedAtMs >= lane.end.askedAtMs) lane.end = end;
  }

  /** Bytes queued in a lane (the caller pauses its fetches above a bound). */
  bytesOf(feed: Feed): number {
    return this.lane(feed).bytes;
  }

  /** Records queued in all lanes. */
  size(): number {
    return this.lanes.reduce((n, l) => n + l.queue.length - l.head, 0);
  }

  plan(nowMs: number, maxRecords: number): MergePlan {
    const taken = Object.fromEntries(FEEDS.map((f) => [f, 0])) as Record<Feed, number>;
    const plan: MergePlan = { items: [], taken, forced: [], waiting: null };
    const forced = new Set<Feed>();
    while (plan.items.length < maxRecords) {
      const heads = this.lanes.map((l) => l.queue[l.head + taken[l.feed]]?.timestampMs);
      const i = firstLane(heads);
      if (i < 0) break;
      const lane = this.lanes[i] as Lane;
      const message = lane.queue[lane.head + taken[lane.feed]] as QueuedMessage;
      let blocked = false;
      const proofAfterMs = Math.max(message.receivedAtMs, message.timestampMs + this.appendMarginMs);
      for (let j = 0; j < this.lanes.length; j++) {
        if (heads[j] !== undefined) continue;
        const other = this.lanes[j] as Lane;
        if (this.complete(other, proofAfterMs)) continue;
        if (nowMs - message.receivedAtMs >= this.maxWaitMs) {
          forced.add(other.feed);
          continue;
        }
        plan.waiting = {
          feed: other.feed,
          endsAfterMs: proofAfterMs,
          deadlineMs: message.receivedAtMs + this.maxWaitMs,
        };
        blocked = true;
        break;
      }
      if (blocked) break;
      plan.items.push({ feed: lane.feed, message });
      taken[lane.feed]++;
    }
    plan.forced = [...forced];
    return plan;
  }

  /** Removes the records a durable step took. */
  drop(taken: Record<Feed, number>): void {
    for (const lane of this.lanes) {
      const n = taken[lane.feed];
      if (!n) continue;
      for (let k = lane.head; k < lane.head + n; k++) {
        lane.bytes -= (lane.queue[k] as QueuedMessage).bytes;
        lane.queue[k] = undefined;
      }
      lane.head += n;
      if (lane.head > 1024 && lane.head * 2 > lane.queue.length) {
        lane.queue = lane.queue.slice(lane.head);
        lane.head = 0;
      }
    }
  }

  /** What a lane holds and what the broker last said of it (for the log of a long wait). */
  describe(feed: Feed): {
    queued: number;
    next: string | null;
    end: { high: string; start: string; askedAtMs: number } | null;
  } {
    const l = this.lane(feed);
    return {
      queued: l.queue.length - l.head,
      next: l.next === null ? null : l.next.toString(),
      end: l.end
        ? { high: l.end.high.toString(), start: l.end.start.toString(), askedAtMs: l.end.askedAtMs }
        : null,
    };
  }

  /** An empty lane is complete as of `afterMs`: the broker, asked then or later, shows nothing more. */
  private complete(lane: Lane, afterMs: number): boolean {
    const end = lane.end;
    if (!end || end.askedAtMs < afterMs) return false;
    const next = lane.next ?? end.start;
    return next >= end.high;
  }

  private lane(feed: Feed): Lane {
    return this.lanes[FEEDS.indexOf(feed)] as Lane;
  }
}
