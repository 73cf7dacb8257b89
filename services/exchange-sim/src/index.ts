export * from './market/model.js';
export * from './server.js';
export * from './config.js';
