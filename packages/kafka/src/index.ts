export * from './client.js';
export * from './messages.js';
export * from './topics.js';
export * from './co-partitioned-assigner.js';
export * from './dead-letters.js';
export * from './consumer-crash.js';
