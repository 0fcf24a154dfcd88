export * from './common.js';
export * from './audit.js';
export * from './alert.js';
export * from './alert-delivery.js';
export * from './drill.js';
export * from './job.js';
export * from './retention.js';
export * from './backup.js';
