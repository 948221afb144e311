export * from './temp.ts';
export * from './process.ts';
export * from './engines.ts';
export * from './track.ts';
