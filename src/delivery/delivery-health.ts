import type { Knex } from 'knex';

/** The platform's alert gauges (PRODUCT.md), per live integration. */
export const HEALTH_GAUGES = [
  { name: 'delivery_success_rate', help: 'Share of Mixpanel items delivered in the last hour' },
  { name: 'vendor_success_rate', help: 'Share of requests Mixpanel answered with 2xx in the last hour' },
  { name: 'error_rate', help: 'Share of requests in the last hour that failed (refused, retried, unauthorised)' },
  { name: 'zero_traffic', help: '1 when an enabled integration delivered nothing in the last hour' },
  {
    name: 'delivery_degraded',
    help: '1 while Mixpanel keeps failing for an integration (its circuit breaker is open: events held, one batch probing)',
  },
  { name: 'dlq_depth', help: 'Dead letters waiting for an operator' },
] as const;

export type HealthGauge = (typeof HEALTH_GAUGES)[number]['name'];

/**
 * Every gauge of every live integration in one pass over the last hour's request log (before, one pass
 * per gauge: four over the same rows), dead letters counted by index per integration.
 */
const HEALTH_SQL = `
  SELECT i.id AS integration_id,
         sum(l.event_count - l.failed_count) FILTER (WHERE l.status IN ('delivered','partial'))::float
           / nullif(sum(l.event_count) FILTER (WHERE l.status <> 'split'), 0) AS delivery_success_rate,
         (count(*) FILTER (WHERE l.http_status BETWEEN 200 AND 299))::float / nullif(count(l.id), 0) AS vendor_success_rate,
         (count(*) FILTER (WHERE l.status IN ('rejected','retry','auth_failed')))::float / nullif(count(l.id), 0) AS error_rate,
         CASE WHEN bool_or(i.enabled) AND count(l.id) = 0 THEN 1 ELSE 0 END AS zero_traffic,
         CASE WHEN bool_or(i.degraded_since IS NOT NULL) THEN 1 ELSE 0 END AS delivery_degraded,
         (SELECT count(*) FROM dead_letters d WHERE d.integration_id = i.id AND d.status = 'dead') AS dlq_depth
    FROM integrations i
    LEFT JOIN delivery_logs l ON l.integration_id = i.id AND l.created_at > now() - interval '1 hour'
   WHERE i.deleted_at IS NULL
   GROUP BY i.id`;

/**
 * A read model (Unleash's term) of delivery health: it reads the integrations table, owned by the
 * integration store, together with delivery's logs and dead letters, for the gauges only. Computed in
 * PostgreSQL at scrape time, so every process reports the same whichever worker did the work.
 */
export class DeliveryHealthReadModel {
  constructor(private readonly knex: Knex) {}

  /** Each gauge's value per live integration (null: nothing to compute it from, e.g. no traffic). */
  async values(): Promise<Map<HealthGauge, { integrationId: string; value: number | null }[]>> {
    const rows = (await this.knex.raw(HEALTH_SQL)).rows as ({ integration_id: string } & Record<HealthGauge, number | string | null>)[];
    return new Map(
      HEALTH_GAUGES.map(({ name }) => [name, rows.map((r) => ({ integrationId: r.integration_id, value: r[name] === null ? null : Number(r[name]) }))]),
    );
  }
}
