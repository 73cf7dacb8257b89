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
