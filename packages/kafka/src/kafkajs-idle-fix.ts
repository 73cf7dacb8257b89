/**
 * A timer defect of kafkajs 2.2.4 (its last release, pinned), fixed on its RequestQueue.
 *
 * Every broker connection has a request queue. After each response it checks its pending
 * requests and then schedules the next check, whether any request is pending or not, at
 * `throttledUntil - now`: with no throttle in force that is negative, so Node runs it after
 * 1 ms, and that check schedules the next. Each connection thus wakes its process ~1,000
 * times a second for as long as it lives, busy or idle (kafkajs issues #1556, #1604, #1704;
 * the fixes proposed in pull requests #1667 and #1768 were never released). Measured here:
 * an idle aligner's event loop polled 1,536 times a second (`epoll_pwait`) and spent 2.77
 * CPU-s a minute (4.6 % of a core) with its JavaScript 98 % idle; with this fix, 242 polls a
 * second and 0.71 CPU-s a minute.
 *
 * Here a check is scheduled only while a request is pending: at the end of the broker's
 * throttle when one is in force, else after kafkajs's own 10 ms interval. Nothing else
 * needs it: `push` schedules a check when it queues a request, and each response checks
 * the queue again (a request waiting for a free in-flight slot is sent then).
 * Test: kafkajs-idle-fix.test.ts (a queue with nothing pending arms no timer; a throttled
 * request is still sent when its throttle ends).
 */
import { createRequire } from 'node:module';
// The fast paths replace kafkajs modules before any loads; this module loads kafkajs's RequestQueue.
import { KAFKAJS_PATCHED_VERSION, kafkajsVersion } from './kafkajs-fast-paths.js';

const require = createRequire(import.meta.url);

/** kafkajs's CHECK_PENDING_REQUESTS_INTERVAL (src/network/requestQueue/index.js). */
const CHECK_INTERVAL_MS = 10;

interface RequestQueueLike {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
}
interface RequestQueueClass {
  prototype: RequestQueueLike & { scheduleCheckPendingRequests(this: RequestQueueLike): void };
}

let installed = false;

if (kafkajsVersion === KAFKAJS_PATCHED_VERSION) {
  const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as RequestQueueClass;
  RequestQueue.prototype.scheduleCheckPendingRequests = function scheduleWhilePending(
    this: RequestQueueLike,
  ) {
    if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
    const untilUnthrottled = this.throttledUntil - Date.now();
    this.throttleCheckTimeoutId = setTimeout(
      () => {
        this.throttleCheckTimeoutId = null;
        this.checkPendingRequests();
      },
      untilUnthrottled > 0 ? untilUnthrottled : CHECK_INTERVAL_MS,
    );
  };
  installed = true;
}

/** Whether the fix is installed (kafkajs 2.2.4) or kafkajs's own scheduling runs (any other version). */
export function kafkajsIdleFix(): { kafkajsVersion: string; installed: boolean } {
  return { kafkajsVersion, installed };
}
