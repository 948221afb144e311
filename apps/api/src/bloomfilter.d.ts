// Types of the `bloomfilter` package (1.x ships none), for what Sluice uses of it.
declare module 'bloomfilter' {
  export class BloomFilter {
    /** `bits` bits (rounded up to a multiple of 32), `hashes` hash functions. */
    constructor(bits: number, hashes: number);
    add(value: string): void;
    /** False: `value` was never added. True: it probably was. */
    test(value: string): boolean;
  }
}
