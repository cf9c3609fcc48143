export * from './cog.js';
export * from './convert.js';
export * from './despeckle.js';
export * from './georef.js';
