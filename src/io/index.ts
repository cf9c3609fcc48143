export * from './source.js';
export * from './tiff/index.js';
