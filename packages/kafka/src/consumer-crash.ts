import type { Logger } from '@perpflow/runtime';
import type { Consumer } from 'kafkajs';

/**
 * Logs every consumer crash, and exits the process when kafkajs gives up for good
 * (CRASH with `restart: false`, e.g. no group coordinator while the broker restarts):
 * otherwise the process stays alive consuming nothing. The supervisor (compose's
 * restart policy, systemd) starts the service again from its committed offsets.
 */
export function exitWhenConsumerGivesUp(consumer: Consumer, logger: Logger): void {
  consumer.on(consumer.events.CRASH, (e) => {
    logger.error({ err: e.payload.error?.message, restart: e.payload.restart }, 'consumer crashed');
    if (!e.payload.restart) {
      logger.error('the Kafka consumer stopped for good; exiting so the supervisor restarts this service');
      setTimeout(() => process.exit(1), 200);
    }
  });
}

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
