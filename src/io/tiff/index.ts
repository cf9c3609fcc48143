export * from './gdal-metadata.js';
export * from './reader.js';
export * from './strips.js';
export * from './writer.js';
