/** Broker error types that mean this member's generation is over: its partitions may be another's. */
const MEMBERSHIP_LOST = new Set([
  'UNKNOWN_MEMBER_ID',
  'ILLEGAL_GENERATION',
  'REBALANCE_IN_PROGRESS',
  'FENCED_INSTANCE_ID',
]);

/**
 * True when a commit or heartbeat failed because the group no longer counts this member
 * in (expelled for a missed session timeout, or a rebalance began). Such a member must
 * stop working on its partitions and let kafkajs rejoin: kafkajs does so when the error
 * reaches it from `eachBatch`, or at its own next heartbeat between batches.
 */
export function lostGroupMembership(err: unknown): boolean {
  const type = (err as { type?: unknown } | null)?.type;
  return typeof type === 'string' && MEMBERSHIP_LOST.has(type);
}
