/**
 * A connection defect of kafkajs 2.2.4 (its last release, pinned), fixed on its Broker class.
 *
 * `Broker.connect` opens a connection and then asks the broker's API versions, with the
 * client's `connectionTimeout` (3 s here) as that request's bound. When the answer is late
 * (a loaded broker: the CI saw it at an end-to-end file's start), the request times out
 * but the TCP connection stays open. kafkajs's retry then calls `connect` again, which
 * returns at once because the broker "is connected", with no versions and no request
 * lookup: the next request throws `Broker not connected`, a plain Error that no retry
 * takes, and the producer or consumer that was connecting fails (a starting service
 * exits). Here a failed versions request also closes the broker's connections, so the
 * retry opens a new one and asks again; every other outcome is kafkajs's own.
 * Test: test/integration/kafka-connect-retry.test.ts (a relay that holds the first
 * connection's request; it fails without this).
 */
import { createRequire } from 'node:module';
// The fast paths replace kafkajs modules before any loads; this module loads kafkajs's Broker.
import { KAFKAJS_PATCHED_VERSION, kafkajsVersion } from './kafkajs-fast-paths.js';

const require = createRequire(import.meta.url);

interface BrokerLike {
  connectionPool: { destroy(): Promise<void> };
}
interface BrokerClass {
  prototype: BrokerLike & { apiVersions: (this: BrokerLike, ...args: unknown[]) => Promise<unknown> };
}

let installed = false;

if (kafkajsVersion === KAFKAJS_PATCHED_VERSION) {
  const Broker = require('kafkajs/src/broker/index.js') as BrokerClass;
  const apiVersions = Broker.prototype.apiVersions;
  Broker.prototype.apiVersions = async function (this: BrokerLike, ...args: unknown[]) {
    try {
      return await apiVersions.apply(this, args);
    } catch (err) {
      // Called only from connect, under the broker's lock: no other request uses this connection yet.
      await this.connectionPool.destroy().catch(() => undefined);
      throw err;
    }
  };
  installed = true;
}

/** Whether the fix is installed (kafkajs 2.2.4) or kafkajs's own connect runs (any other version). */
export function kafkajsConnectFix(): { kafkajsVersion: string; installed: boolean } {
  return { kafkajsVersion, installed };
}
