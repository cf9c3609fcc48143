export * from './crs.js';
export * from './ecef.js';
export * from './geolocation.js';
export * from './transform.js';
export * from './window.js';
