export * from './dtype.js';
export * from './overview.js';
export * from './sar.js';
export * from './speckle.js';
export * from './view.js';
