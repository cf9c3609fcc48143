export * from './crs.js';
export * from './ecef.js';
export * from './transform.js';
export * from './window.js';
