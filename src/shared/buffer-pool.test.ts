import { BufferLeases, BufferPool } from './buffer-pool.js';

describe('BufferPool', () => {
  it('hands back what was given, keeps at most its limit, and refuses other sizes', () => {
    const pool = new BufferPool(1024, 2);
    const [a, b, c] = [pool.take(), pool.take(), pool.take()];
    expect([a.length, b.length, c.length]).toEqual([1024, 1024, 1024]);
    pool.give(a);
    pool.give(b);
    pool.give(c); // over the limit: dropped
    pool.give(Buffer.alloc(10)); // not this pool's size
    expect(new Set([pool.take(), pool.take()])).toEqual(new Set([a, b]));
    expect([a, b, c]).not.toContain(pool.take());
  });
});

describe('BufferLeases', () => {
  it('gives back what its owner took, once, and never a buffer of another size', () => {
    const pool = new BufferPool(1024, 4);
    const leases = new BufferLeases(pool);
    const a = leases.take();
    const odd = leases.take(10);
    expect([a.length, odd.length]).toEqual([1024, 10]);
    leases.releaseAll();
    leases.releaseAll(); // a second call gives nothing back twice
    expect(pool.take()).toBe(a);
    expect(pool.take()).not.toBe(a); // the pool held a alone: the odd-sized one was not kept
  });
});
