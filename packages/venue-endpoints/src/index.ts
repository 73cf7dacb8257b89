export * from './point-exchange.js';
