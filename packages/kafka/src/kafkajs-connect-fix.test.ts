import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { kafkajsConnectFix } from './index.js';

const require = createRequire(import.meta.url);

// The behaviour is tested against the stack's broker (test/integration/kafka-connect-retry.test.ts);
// here, that the package installs it on the Broker class kafkajs itself uses.
describe('kafkajs connect fix', () => {
  it('is installed on the Broker class kafkajs loads, for kafkajs 2.2.4', () => {
    assert.deepEqual(kafkajsConnectFix(), { kafkajsVersion: '2.2.4', installed: true });
    const Broker = require('kafkajs/src/broker/index.js') as { prototype: { apiVersions: () => unknown } };
    assert.notEqual(
      Broker.prototype.apiVersions.toString().indexOf('connectionPool.destroy'),
      -1,
      "Broker.prototype.apiVersions is not the fix's",
    );
  });
});
