/** One Prometheus histogram (without labels) read from `/metrics` text: its cumulative buckets and count. */
export function histogram(text: string, name: string): { buckets: { le: string; count: number }[]; count: number; le(bound: string): number } {
  const buckets = [...text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\d+)$`, 'gm'))].map((m) => ({ le: m[1], count: Number(m[2]) }));
  const count = Number(new RegExp(`^${name}_count (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  return { buckets, count, le: (bound) => buckets.find((b) => b.le === bound)?.count ?? 0 };
}

/** One sample of a Prometheus counter read from `/metrics` text, by its exact label set (`{status="202"}`); 0 when absent. */
export function counter(text: string, name: string, labels = ''): number {
  const escaped = `${name}${labels}`.replace(/[{}.*+?^$()|[\]\\]/g, '\\$&');
  return Number(new RegExp(`^${escaped} (\\d+(?:\\.\\d+)?)$`, 'm').exec(text)?.[1] ?? 0);
}
