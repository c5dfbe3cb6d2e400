import type { Knex } from 'knex';
import type { BatchRecord } from './delivery-store.js';
import { DeliveryHealthReadModel, HEALTH_GAUGES, type HealthGauge } from './delivery-health.js';
import { isInfrastructureError } from '../shared/infrastructure-errors.js';
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type MetricObjectWithValues, type MetricValue } from 'prom-client';

/** Metrics as prom-client hands them between registries (and between threads: plain data). */
export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/**
 * The counters and histograms that delivery updates as it works (prom-client), one set per delivery
 * worker: a delivery thread keeps its own and hands them to the API's /metrics (see MetricsExport).
 */
export class DeliveryMetrics {
  readonly registry = new Registry();
  private readonly items: Counter<'integration_id' | 'kind' | 'outcome'>;
  private readonly events: Counter<'integration_id' | 'outcome'>;
  private readonly requests: Counter<'integration_id' | 'endpoint' | 'status'>;
  private readonly requestSeconds: Histogram<'endpoint'>;
  private readonly latencySeconds: Histogram<string>;
  private readonly startLatenessSeconds: Histogram<string>;

  constructor() {
    this.items = new Counter({
      name: 'mixpanel_delivery_items_total',
      help: 'Mixpanel objects by kind (event, profile_update, group_update) and outcome (refused ones have kind "any")',
      labelNames: ['integration_id', 'kind', 'outcome'],
      registers: [this.registry],
    });
    this.events = new Counter({
      name: 'delivery_events_total',
      help:
        'Canonical events by outcome: delivered (every Mixpanel object made from it accepted), dead_lettered, skipped (by the blueprint) or no_consent (skipped for lack of consent)',
      labelNames: ['integration_id', 'outcome'],
      registers: [this.registry],
    });
    this.requests = new Counter({
      name: 'mixpanel_requests_total',
      help: 'Requests sent to Mixpanel by endpoint and HTTP status (0 = no answer)',
      labelNames: ['integration_id', 'endpoint', 'status'],
      registers: [this.registry],
    });
    this.requestSeconds = new Histogram({
      name: 'mixpanel_request_duration_seconds',
      help: 'Duration of requests to Mixpanel',
      labelNames: ['endpoint'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
    this.latencySeconds = new Histogram({
      name: 'delivery_latency_seconds',
      help: 'From acceptance by POST /v1/events to acceptance by Mixpanel',
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600],
      registers: [this.registry],
    });
    this.startLatenessSeconds = new Histogram({
      name: 'delivery_delayed_job_lateness_seconds',
      help: 'How long after its time a delayed job (a retry, a held batch) was taken by a worker: high values mean the workers are behind',
      buckets: [0.05, 0.1, 0.25, 0.5, 0.75, 1, 2, 5, 10, 30, 60, 300],
      registers: [this.registry],
    });
  }

  request(integrationId: string, endpoint: string, status: number, ms: number): void {
    this.requests.inc({ integration_id: integrationId, endpoint, status: String(status) });
    this.requestSeconds.observe({ endpoint }, ms / 1000);
  }

  outcome(integrationId: string, r: Pick<BatchRecord, 'delivered' | 'eventsDelivered' | 'failed' | 'deadLetters' | 'skipped' | 'skippedNoConsent'>): void {
    const id = integrationId;
    const items = (kind: string, outcome: string, n: number) => n && this.items.inc({ integration_id: id, kind, outcome }, n);
    items('event', 'delivered', r.delivered.events);
    items('profile_update', 'delivered', r.delivered.profileUpdates);
    items('group_update', 'delivered', r.delivered.groupUpdates);
    items('any', 'failed', r.failed);
    if (r.eventsDelivered) this.events.inc({ integration_id: id, outcome: 'delivered' }, r.eventsDelivered);
    if (r.deadLetters.length) this.events.inc({ integration_id: id, outcome: 'dead_lettered' }, r.deadLetters.length);
    const byBlueprint = r.skipped - r.skippedNoConsent;
    if (byBlueprint > 0) this.events.inc({ integration_id: id, outcome: 'skipped' }, byBlueprint);
    if (r.skippedNoConsent) this.events.inc({ integration_id: id, outcome: 'no_consent' }, r.skippedNoConsent);
  }

  latency(ms: number): void {
    this.latencySeconds.observe(ms / 1000);
  }

  delayedJobStarted(lateMs: number): void {
    this.startLatenessSeconds.observe(Math.max(0, lateMs) / 1000);
  }
}

/**
 * What GET /metrics shows: the process's default metrics, the platform's alert gauges
 * (delivery_success_rate, vendor_success_rate, error_rate, dlq_depth, zero_traffic), computed from
 * PostgreSQL at scrape time so every process reports the same numbers whichever worker did the work,
 * and the delivery counters of this process's workers, on the event loop or on delivery threads
 * (summed). Workers in other processes (`npm run worker`) keep their counters to themselves.
 *
 * When PostgreSQL cannot answer (unreachable, or no free connection), the scrape still succeeds: the
 * alert gauges are left out and `database_up` is 0, so an outage shows in the metrics instead of
 * taking them away (before, the whole scrape answered 503).
 */
export class MetricsExport {
  readonly contentType = Registry.PROMETHEUS_CONTENT_TYPE;
  private readonly registry = new Registry();
  private readonly sources: (() => Promise<MetricsJson[]>)[] = [];
  private readonly health: DeliveryHealthReadModel;
  private readonly gauges: Map<HealthGauge, Gauge<'integration_id'>>;
  private readonly databaseUp: Gauge;

  constructor(
    knex: Knex,
    /** Registries of counters this process keeps on its event loop (delivery's, ingest's). */
    private readonly locals: Registry[],
  ) {
    collectDefaultMetrics({ register: this.registry });
    this.health = new DeliveryHealthReadModel(knex);
    this.gauges = new Map(
      HEALTH_GAUGES.map((g) => [g.name, new Gauge({ name: g.name, help: g.help, labelNames: ['integration_id'], registers: [this.registry] })]),
    );
    this.databaseUp = new Gauge({
      name: 'database_up',
      help: "1 when PostgreSQL answered this scrape's reads, 0 when it could not be reached or had no free connection (the per-integration gauges are then left out)",
      registers: [this.registry],
    });
  }

  /** Adds counters kept elsewhere in this process (delivery threads). */
  addSource(source: () => Promise<MetricsJson[]>): void {
    this.sources.push(source);
  }

  async text(): Promise<string> {
    await this.readHealth();
    const own = await Promise.all([this.registry, ...this.locals].map((r) => r.getMetricsAsJSON()));
    const others = (await Promise.all(this.sources.map((s) => s()))).flat();
    return AggregatorRegistry.aggregate([...own, ...others]).metrics();
  }

  private async readHealth(): Promise<void> {
    let values;
    try {
      values = await this.health.values();
    } catch (err) {
      if (!isInfrastructureError(err)) throw err;
      for (const gauge of this.gauges.values()) gauge.reset();
      this.databaseUp.set(0);
      return;
    }
    for (const [name, rows] of values) {
      const gauge = this.gauges.get(name)!;
      gauge.reset();
      for (const r of rows) if (r.value !== null) gauge.set({ integration_id: r.integrationId }, r.value);
    }
    this.databaseUp.set(1);
  }
}
