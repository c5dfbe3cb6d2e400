import fc from 'fast-check';
import { defaultBlueprint } from '../catalog/mixpanel/blueprints/default.js';
import { retailBlueprint } from '../catalog/mixpanel/blueprints/retail.js';
import { eventLimitsReason } from '../ingest/event-limits.js';
import { eventSpans } from '../ingest/events-body.js';
import type { Blueprint, Mapping } from './blueprint.js';
import type { CanonicalEvent } from './canonical-event.js';
import { CompiledBlueprint } from './engine.js';
import { TRANSFORM_NAMES } from './transforms.js';

/** Properties that hold for any input: the engine and the ingest parser never throw, whatever they get. */
const id = fc.oneof(fc.uuid().map(String), fc.string({ maxLength: 20 }), fc.constantFrom('', ' ', 'null', 'anonymous', '0'));
const event = fc.record(
  {
    type: fc.constantFrom('track', 'page', 'identify', 'group', 'alias', 'screen', 'other'),
    event: fc.oneof(fc.string(), fc.constantFrom('Order Completed', 'Checkout Started', 'Product Viewed'), fc.jsonValue()),
    name: fc.oneof(fc.string(), fc.jsonValue()),
    userId: fc.oneof(id, fc.constant(null), fc.integer()),
    anonymousId: fc.oneof(id, fc.jsonValue()),
    previousId: id,
    groupId: fc.oneof(id, fc.jsonValue()),
    messageId: fc.oneof(id, fc.jsonValue()),
    timestamp: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.string(), fc.jsonValue()),
    originalTimestamp: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.jsonValue()),
    sentAt: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.jsonValue()),
    properties: fc.oneof(
      fc.jsonValue({ maxDepth: 5 }),
      fc.record({ total: fc.jsonValue(), revenue: fc.jsonValue(), currency: fc.jsonValue(), products: fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 5 }) }, { requiredKeys: [] }),
    ),
    traits: fc.jsonValue({ maxDepth: 4 }),
    context: fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      fc.record(
        {
          page: fc.jsonValue({ maxDepth: 2 }),
          userAgent: fc.jsonValue(),
          ip: fc.jsonValue(),
          campaign: fc.jsonValue({ maxDepth: 2 }),
          consent: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.record({ analytics: fc.jsonValue(), categoryPreferences: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: [] })),
          traits: fc.jsonValue({ maxDepth: 3 }),
          app: fc.jsonValue({ maxDepth: 2 }),
          device: fc.record({ advertisingId: fc.jsonValue(), adTrackingEnabled: fc.jsonValue(), model: fc.jsonValue() }, { requiredKeys: [] }),
        },
        { requiredKeys: [] },
      ),
    ),
  },
  { requiredKeys: [] },
);
const sources = fc.constantFrom('properties', 'properties.total', 'properties.products[].sku', 'properties.products[]', 'traits.email', 'traits', 'context.page.url', 'context.campaign', 'context.userAgent', 'context.app.version', 'context.app.build', 'userId', 'item.price', 'name');
const mapping: fc.Arbitrary<Mapping> = fc.record(
  {
    source: fc.oneof(sources, fc.array(sources, { minLength: 1, maxLength: 3 })),
    value: fc.jsonValue({ maxDepth: 2 }),
    target: fc.string({ minLength: 1, maxLength: 10 }),
    transform: fc.oneof(fc.constantFrom(...TRANSFORM_NAMES), fc.array(fc.constantFrom(...TRANSFORM_NAMES), { maxLength: 3 })),
    format: fc.string({ maxLength: 3 }),
    value_map: fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 })),
    default: fc.jsonValue({ maxDepth: 1 }),
    when: sources,
    spread: fc.boolean(),
  },
  { requiredKeys: ['source', 'target'] },
);
const operations = fc.constantFrom('$set', '$set_once', '$add', '$append', '$union', '$remove', '$unset') as fc.Arbitrary<NonNullable<Mapping['operation']>>;
const profileMapping: fc.Arbitrary<Mapping> = fc.tuple(mapping, operations).map(([m, operation]) => ({ ...m, operation }));
const blueprint: fc.Arbitrary<Blueprint> = fc.record({
  base: fc.constantFrom(defaultBlueprint, retailBlueprint),
  global: fc.array(mapping, { maxLength: 4 }),
  extra: fc.array(mapping, { maxLength: 4 }),
  profile: fc.array(profileMapping, { maxLength: 4 }),
  simplified: fc.boolean(),
  anonymousMerge: fc.constantFrom('auto', 'identify', 'merge') as fc.Arbitrary<'auto' | 'identify' | 'merge'>,
  whenMissing: fc.constantFrom('allow', 'deny') as fc.Arbitrary<'allow' | 'deny'>,
  contextTraits: fc.subarray(['track', 'page', 'screen', 'identify', 'group'] as ('track' | 'page' | 'screen' | 'identify' | 'group')[]),
  ignoreTime: fc.boolean(),
  linkUser: fc.boolean(),
}).map(({ base, global, extra, profile, simplified, anonymousMerge, whenMissing, contextTraits, ignoreTime, linkUser }) => ({
  ...base,
  identity: { merge_api: simplified ? 'simplified' : 'original', anonymous_merge: anonymousMerge },
  consent: { category: 'analytics', when_missing: whenMissing },
  context_traits: contextTraits,
  profile: { ...base.profile, ignore_time: ignoreTime, mappings: [...base.profile.mappings, ...profile] },
  group: { ...base.group!, link_user: linkUser, group_id_from: ['traits.group_id', 'traits'] },
  global: { mappings: [...base.global.mappings, ...global] },
  events: { ...base.events, 'Order Completed': { ...base.events['Order Completed'], mappings: [...base.events['Order Completed'].mappings, ...extra] } },
}));

describe('the mapping engine, on any event and any blueprint the schema allows', () => {
  it('never throws: every event is mapped, rejected with a reason, or skipped with a reason', () => {
    fc.assert(
      fc.property(blueprint, fc.array(event, { minLength: 1, maxLength: 5 }), (bp, events) => {
        const compiled = new CompiledBlueprint(bp);
        for (const e of events) {
          const mapped = compiled.map(e as unknown as CanonicalEvent, { projectToken: 'tok' });
          if (mapped.rejected === undefined && mapped.skipped === undefined && mapped.items.length === 0) return false;
          for (const item of mapped.items) JSON.stringify(item.body);
        }
        return true;
      }),
      { numRuns: 400 },
    );
  });
});

describe('the ingest parser and limits, on any input', () => {
  it('cutting a body never throws, and when it cuts, it cuts exactly what JSON.parse reads', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue({ maxDepth: 4 }), { maxLength: 5 }), fc.constantFrom('', ' ', '\n\t'), (events, space) => {
        const bytes = Buffer.from(`${space}{${space}"events"${space}:${space}${JSON.stringify(events, null, space ? 1 : 0)}${space}}${space}`);
        const spans = eventSpans(bytes);
        if (!spans) return false;
        const cut = Array.from({ length: spans.count }, (_, k) => spans.parse(k));
        expect(cut).toEqual(JSON.parse(bytes.toString('utf8')).events);
        return true;
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.string({ maxLength: 60 }), (raw, text) => {
        eventSpans(Buffer.from(raw));
        eventSpans(Buffer.from(`{"events":[${text}]}`));
      }),
      { numRuns: 500 },
    );
  });

  it('the limits walk never throws, whatever the event', () => {
    fc.assert(
      fc.property(fc.oneof(event, fc.jsonValue({ maxDepth: 8 })), (e) => {
        const reason = eventLimitsReason(e);
        return reason === undefined || typeof reason === 'string';
      }),
      { numRuns: 500 },
    );
  });
});
