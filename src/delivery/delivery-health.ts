import type { Knex } from 'knex';

const LAST_HOUR = `FROM integrations i LEFT JOIN delivery_logs l ON l.integration_id = i.id AND l.created_at > now() - interval '1 hour'
                   WHERE i.deleted_at IS NULL GROUP BY i.id`;

/** The platform's alert gauges (PRODUCT.md), per live integration, and how each is computed. */
export const HEALTH_GAUGES = [
  {
    name: 'delivery_success_rate',
    help: 'Share of Mixpanel items delivered in the last hour',
    sql: `SELECT i.id AS integration_id,
                 sum(l.event_count - l.failed_count) FILTER (WHERE l.status IN ('delivered','partial'))::float
                   / nullif(sum(l.event_count) FILTER (WHERE l.status <> 'split'), 0) AS value ${LAST_HOUR}`,
  },
  {
    name: 'vendor_success_rate',
    help: 'Share of requests Mixpanel answered with 2xx in the last hour',
    sql: `SELECT i.id AS integration_id, (count(*) FILTER (WHERE l.http_status BETWEEN 200 AND 299))::float / nullif(count(l.id), 0) AS value ${LAST_HOUR}`,
  },
  {
    name: 'error_rate',
    help: 'Share of requests in the last hour that failed (refused, retried, unauthorised)',
    sql: `SELECT i.id AS integration_id, (count(*) FILTER (WHERE l.status IN ('rejected','retry','auth_failed')))::float / nullif(count(l.id), 0) AS value ${LAST_HOUR}`,
  },
  {
    name: 'zero_traffic',
    help: '1 when an enabled integration delivered nothing in the last hour',
    sql: `SELECT i.id AS integration_id, CASE WHEN bool_or(i.enabled) AND count(l.id) = 0 THEN 1 ELSE 0 END AS value ${LAST_HOUR}`,
  },
  {
    name: 'delivery_degraded',
    help: '1 while Mixpanel keeps failing for an integration (its circuit breaker is open: events held, one batch probing)',
    sql: `SELECT id AS integration_id, CASE WHEN degraded_since IS NULL THEN 0 ELSE 1 END AS value FROM integrations WHERE deleted_at IS NULL`,
  },
  {
    name: 'dlq_depth',
    help: 'Dead letters waiting for an operator',
    sql: `SELECT i.id AS integration_id, count(d.id) AS value FROM integrations i
            LEFT JOIN dead_letters d ON d.integration_id = i.id AND d.status = 'dead' WHERE i.deleted_at IS NULL GROUP BY i.id`,
  },
] as const;

export type HealthGauge = (typeof HEALTH_GAUGES)[number]['name'];

/**
 * A read model (Unleash's term) of delivery health: it reads the integrations table, owned by the
 * integration store, together with delivery's logs and dead letters, for the gauges only. Computed in
 * PostgreSQL at scrape time, so every process reports the same whichever worker did the work.
 */
export class DeliveryHealthReadModel {
  constructor(private readonly knex: Knex) {}

  async values(gauge: HealthGauge): Promise<{ integrationId: string; value: number | null }[]> {
    const { sql } = HEALTH_GAUGES.find((g) => g.name === gauge)!;
    const rows = (await this.knex.raw(sql)).rows as { integration_id: string; value: number | string | null }[];
    return rows.map((r) => ({ integrationId: r.integration_id, value: r.value === null ? null : Number(r.value) }));
  }
}
