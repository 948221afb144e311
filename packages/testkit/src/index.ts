export * from './temp.ts';
export * from './process.ts';
