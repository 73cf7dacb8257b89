export * from './client.js';
export { kafkajsConnectFix } from './kafkajs-connect-fix.js';
export { crc32c, kafkajsFastPaths } from './kafkajs-fast-paths.js';
export { kafkajsIdleFix } from './kafkajs-idle-fix.js';
export * from './messages.js';
export * from './topics.js';
export * from './co-partitioned-assigner.js';
export * from './dead-letters.js';
export * from './consumer-crash.js';
