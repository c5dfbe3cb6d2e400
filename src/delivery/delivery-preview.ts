import type { BlueprintCache } from '../blueprints/engine.js';
import type { CanonicalEvent } from '../blueprints/canonical-event.js';
import { completeEvent } from '../blueprints/complete-event.js';
import { planBatches, requestUrl, type MixpanelRegion } from '../destinations/mixpanel/requests.js';
import type { MixpanelItem } from '../destinations/mixpanel/wire.js';
import { importAuthOf, MASK, regionOf } from '../integrations/integration.js';
import type { IntegrationService } from '../integrations/integration-service.js';

/** What delivery would send for some events with an integration's current blueprint. Nothing is sent. */
export class DeliveryPreview {
  constructor(
    private readonly deps: {
      integrations: Pick<IntegrationService, 'get'>;
      blueprints: BlueprintCache;
      baseUrls: Record<MixpanelRegion, string>;
    },
  ) {}

  async preview(orgId: string, id: string, events: CanonicalEvent[]) {
    const rec = await this.deps.integrations.get(orgId, id);
    const compiled = this.deps.blueprints.get(`${rec.id}:${rec.revision}`, rec.blueprint);
    const items: MixpanelItem[] = [];
    const receivedAt = new Date().toISOString();
    const results = events.map((event, index) => {
      // As ingest would queue it: the event time worked out and a messageId when it has none.
      const queued = event !== null && typeof event === 'object' && !Array.isArray(event) ? completeEvent({ ...event }, receivedAt) : event;
      const mapped = compiled.map(queued, { projectToken: rec.config.project_token });
      items.push(...mapped.items);
      const status = mapped.rejected ? 'rejected' : mapped.skipped ? 'skipped' : 'mapped';
      const reason = mapped.rejected ?? mapped.skipped;
      return { index, status, ...(reason ? { reason } : {}), warnings: mapped.warnings };
    });
    const region = regionOf(rec.config);
    const baseUrl = this.deps.baseUrls[region];
    const { projectId } = importAuthOf(rec.config);
    const requests = planBatches(items, (i) => i).map((b) => ({
      method: 'POST' as const,
      url: requestUrl(baseUrl, b.endpoint, projectId),
      endpoint: b.endpoint,
      region,
      headers: {
        'Content-Type': 'application/json',
        'Content-Encoding': 'gzip',
        ...(b.endpoint === '/import' ? { Authorization: `Basic ${MASK}` } : {}),
      },
      body: JSON.parse(b.body.toString('utf8')) as Record<string, unknown>[],
    }));
    return { results, requests };
  }
}
