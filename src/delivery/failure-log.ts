import type { Logger } from '../logger.js';
import type { DeliveryFailure } from './settle.js';

interface Seen {
  since: number;
  repeats: number;
  integrationId: string;
  orgId: string;
  failures: DeliveryFailure[];
}

function describe(f: DeliveryFailure): string {
  const status = f.endpoint === 'blueprint' ? '' : f.http_status ? ` ${f.http_status}` : ' no answer';
  const next = f.next === 'retry' ? `retry at ${f.retry_at}` : f.next === 'held' ? 'held until the API secret is updated' : 'dead-lettered';
  return `${f.endpoint}${status} (${f.error}): ${f.items} item(s) ${next}`;
}

/**
 * One log line per failed batch (integration, endpoint, Mixpanel's status and error, what happens
 * next), without flooding: the same failure of the same integration is written once per window and
 * counted meanwhile; the count comes with the next line, or with `flush` once the window has passed.
 */
export class FailureLog {
  private readonly seen = new Map<string, Seen>();

  constructor(
    private readonly logger: Logger,
    private readonly windowMs = 60_000,
  ) {}

  report(integration: { id: string; orgId: string }, failures: DeliveryFailure[], now = Date.now()): void {
    if (failures.length === 0) return;
    const key = `${integration.id}|${failures.map((f) => `${f.endpoint} ${f.http_status} ${f.next} ${f.error}`).sort().join('|')}`;
    const seen = this.seen.get(key);
    if (seen && now - seen.since < this.windowMs) {
      seen.repeats++;
      seen.failures = failures;
      return;
    }
    this.seen.set(key, { since: now, repeats: 0, integrationId: integration.id, orgId: integration.orgId, failures });
    this.write(integration.id, integration.orgId, failures, seen?.repeats ?? 0);
  }

  /** Writes the counts of windows that have passed, and forgets them. */
  flush(now = Date.now()): void {
    for (const [key, s] of this.seen) {
      if (now - s.since < this.windowMs) continue;
      this.seen.delete(key);
      if (s.repeats > 0) this.write(s.integrationId, s.orgId, s.failures, s.repeats);
    }
  }

  private write(integrationId: string, orgId: string, failures: DeliveryFailure[], repeats: number): void {
    const lost = failures.some((f) => f.next === 'dead-lettered');
    const again = repeats > 0 ? ` (and ${repeats} more batch(es) like it in the last ${this.windowMs / 1000} s)` : '';
    this.logger[lost ? 'error' : 'warn'](
      { integration_id: integrationId, org_id: orgId, failures, repeats },
      `delivery failed: ${failures.map(describe).join('; ')}${again}`,
    );
  }
}
