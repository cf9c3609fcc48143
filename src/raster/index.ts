export * from './dtype.js';
export * from './view.js';
