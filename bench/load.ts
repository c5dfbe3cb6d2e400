import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** A small page event; `lane` names its run for the stand-in's per-lane counts and latencies. */
export function eventJson(lane: string, i: number): string {
  return JSON.stringify({
    type: 'page',
    name: 'Home',
    anonymousId: randomUUID(),
    messageId: randomUUID(),
    timestamp: new Date().toISOString(),
    properties: { lane, sent_at: Date.now(), i, path: `/p/${i % 100}` },
    context: { ip: '203.0.113.9', page: { url: `https://shop.example.com/p/${i % 100}` } },
  });
}

/** A POST body of `count` such events. */
export const bodyOf = (lane: string, count: number, offset = 0) => `{"events":[${Array.from({ length: count }, (_, i) => eventJson(lane, offset + i)).join(',')}]}`;

/** The POSTs that carry `total` events of `lane`, `perPost` each, from the orgs of `keys` in turn (their ingestion keys). */
export function roundRobinPosts(keys: string[], lane: string, total: number, perPost: number): { key: string; body: Buffer }[] {
  return Array.from({ length: Math.ceil(total / perPost) }, (_, k) => ({ key: keys[k % keys.length], body: Buffer.from(bodyOf(lane, perPost, k * perPost)) }));
}

/** Runs `fn` over `items`, `width` at a time. */
export async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

/** Seconds the machine's cores have been busy (all but idle and iowait): PostgreSQL's backends come and go, their CPU with them. */
export function machineBusySeconds(): number {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  return (ticks.reduce((a, b) => a + b, 0) - ticks[3] - ticks[4]) / 100;
}
