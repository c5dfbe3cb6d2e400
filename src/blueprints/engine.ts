import type { MixpanelItem } from '../destinations/mixpanel/wire.js';
import type { Blueprint, EventRule } from './blueprint.js';
import type { CanonicalEvent } from './canonical-event.js';
import { eventReason, invalidIdReason, updateReason } from './guards.js';
import { insertId } from './insert-id.js';
import { compileMappings, compileValue, keysReadUnder, type CompiledMappings, type ValueFn } from './mappings.js';
import { compilePath, isPresent, type Getter } from './paths.js';


/** What one canonical event becomes. `rejected` goes to dead letters; `skipped` is intended silence. */
export interface MappedEvent {
  items: MixpanelItem[];
  rejected?: string;
  skipped?: string;
  warnings: string[];
}

/** Facts of the integration that the mapping needs (never a secret). */
export interface MapContext {
  projectToken: string;
}

interface CompiledEvent {
  name: string;
  mappings: CompiledMappings;
  fanOut?: { items: Getter; name: string; mappings: CompiledMappings };
}

/** Who an event is about, resolved once per event for the project's ID Merge mode. */
interface Ids {
  distinctId: string;
  userId?: string;
  deviceId: string;
}

const EVENT_TYPES = new Set(['track', 'page', 'identify', 'group', 'alias']);

/** A blueprint compiled once into closures; `map` then never re-reads the document. */
export class CompiledBlueprint {
  private readonly simplified: boolean;
  private readonly global: CompiledMappings;
  private readonly events = new Map<string, CompiledEvent | null>();
  private readonly fallback: CompiledEvent | null;
  private readonly pageEvent: CompiledEvent | null;
  private readonly profile?: CompiledMappings;
  private readonly revenueEvents: Set<string>;
  private readonly revenueAmount?: ValueFn;
  private readonly transaction?: CompiledMappings;
  private readonly lifetime?: { count?: string; amount?: string };
  private readonly group?: { key: string; mappings: CompiledMappings };

  constructor(bp: Blueprint) {
    this.simplified = bp.identity.merge_api === 'simplified';
    this.global = compileMappings(bp.global.mappings);
    for (const [name, rule] of Object.entries(bp.events)) {
      if (name !== 'page') this.events.set(name, compileEvent(name, rule));
    }
    this.fallback = bp.defaults.action === 'pass' ? { name: '', mappings: compileMappings(bp.defaults.mappings) } : null;
    this.pageEvent = bp.events.page ? compileEvent('Page Viewed', bp.events.page) : this.fallback && { ...this.fallback, name: 'Page Viewed' };
    if (bp.profile.enabled) {
      const explicit = compileMappings(bp.profile.mappings);
      if (bp.profile.pass_through) {
        const consumed = keysReadUnder(bp.profile.mappings, 'traits');
        const rest = compileMappings([{ source: 'traits', spread: true, exclude: [...consumed, ...(bp.profile.exclude ?? [])] }]);
        this.profile = (root, out) => {
          rest(root, out);
          explicit(root, out);
        };
      } else {
        this.profile = explicit;
      }
    }
    this.revenueEvents = new Set(bp.revenue?.events ?? []);
    if (bp.revenue) {
      this.revenueAmount = compileValue(bp.revenue.amount);
      this.transaction = compileMappings(bp.revenue.transaction_mappings);
      if (bp.revenue.lifetime) this.lifetime = { count: bp.revenue.lifetime.count_property, amount: bp.revenue.lifetime.amount_property };
    }
    if (bp.group) {
      const explicit = compileMappings(bp.group.mappings ?? []);
      const rest = bp.group.pass_through ? compileMappings([{ source: 'traits', spread: true }]) : undefined;
      this.group = {
        key: bp.group.group_key,
        mappings: (root, out) => {
          rest?.(root, out);
          explicit(root, out);
        },
      };
    }
  }

  map(e: CanonicalEvent, ctx: MapContext): MappedEvent {
    const result: MappedEvent = { items: [], warnings: [] };
    const time = typeof e?.timestamp === 'string' ? Date.parse(e.timestamp) : NaN;
    const invalid = this.basicReason(e, time);
    if (invalid) return { ...result, rejected: invalid };
    const ids = this.identity(e);
    switch (e.type) {
      case 'track':
      case 'page':
        this.trackOrPage(e, ctx, time, ids, result);
        break;
      case 'identify':
        this.identify(e, ctx, time, ids, result);
        break;
      case 'alias':
        this.alias(e, ctx, time, result);
        break;
      case 'group':
        this.groupUpdate(e, ctx, result);
        break;
    }
    if (!result.rejected) {
      for (const item of result.items) {
        const reason =
          item.endpoint === '/import'
            ? eventReason(item.body as { event: unknown; properties: Record<string, unknown> })
            : updateReason(item.body);
        if (reason) return { items: [], warnings: result.warnings, rejected: `${describe(item)}: ${reason}` };
      }
    }
    if (!result.rejected && !result.skipped && result.items.length === 0) result.skipped = 'nothing to send for this event';
    return result;
  }

  private basicReason(e: CanonicalEvent, time: number): string | undefined {
    if (!e || typeof e !== 'object') return 'event is not an object';
    if (!EVENT_TYPES.has(e.type)) return `type "${String(e.type)}" is not one of track, page, identify, group, alias`;
    const anon = invalidIdReason('anonymousId', e.anonymousId);
    if (anon) return anon;
    if (e.userId !== undefined && e.userId !== null) {
      const user = invalidIdReason('userId', e.userId);
      if (user) return user;
    }
    if (typeof e.messageId !== 'string' || e.messageId === '') return 'messageId is missing (it makes retries safe)';
    if (Number.isNaN(time)) return 'timestamp is missing or not ISO 8601';
    if (e.type === 'track' && (typeof e.event !== 'string' || e.event.trim() === '')) return 'track event has no event name';
    return undefined;
  }

  private identity(e: CanonicalEvent): Ids {
    const userId = typeof e.userId === 'string' && e.userId !== '' ? e.userId : undefined;
    const distinctId = userId ?? (this.simplified ? `$device:${e.anonymousId}` : e.anonymousId);
    return { distinctId, userId, deviceId: e.anonymousId };
  }

  private eventProperties(
    e: unknown,
    common: Record<string, unknown>,
    mappings: CompiledMappings,
    ctx: MapContext,
    time: number,
    ids: Ids,
    id: string,
  ): Record<string, unknown> {
    const props: Record<string, unknown> = {};
    for (const k in common) props[k] = common[k];
    mappings(e, props);
    props.token = ctx.projectToken;
    props.time = time;
    props.distinct_id = ids.distinctId;
    props.$insert_id = id;
    props.$device_id = ids.deviceId;
    if (ids.userId) props.$user_id = ids.userId;
    else delete props.$user_id;
    // Built by keyed stores, the object has likely become a slow dictionary; a copy is a fast object
    // again, which the size checks and JSON.stringify walk much faster.
    return { ...props };
  }

  /** The global mappings, computed once per canonical event and shared by every event made from it. */
  private globalProperties(e: CanonicalEvent): Record<string, unknown> {
    const props: Record<string, unknown> = {};
    this.global(e, props);
    return props;
  }

  private trackOrPage(
    e: CanonicalEvent,
    ctx: MapContext,
    time: number,
    ids: Ids,
    result: MappedEvent,
  ): void {
    const rule = e.type === 'page' ? this.pageEvent : this.events.has(e.event!) ? this.events.get(e.event!)! : this.fallback;
    if (!rule) {
      result.skipped = this.events.has(e.event!)
        ? `event "${e.event}" is disabled in the blueprint`
        : `event "${e.event ?? e.type}" is not in the blueprint and defaults.action is drop`;
      return;
    }
    const name = rule.name || (e.event as string);
    const common = this.globalProperties(e);
    const props = this.eventProperties(e, common, rule.mappings, ctx, time, ids, insertId(e.messageId));
    result.items.push({ endpoint: '/import', body: { event: name, properties: props } });
    if (e.type === 'track' && this.revenueEvents.has(e.event!)) this.revenue(e, ctx, time, ids, props, result);
    if (rule.fanOut) {
      const list = rule.fanOut.items(e);
      if (Array.isArray(list)) {
        list.forEach((item, i) => {
          const scope = { ...e, item };
          const itemProps = this.eventProperties(scope, common, rule.fanOut!.mappings, ctx, time, ids, insertId(e.messageId, `item:${i}`));
          result.items.push({ endpoint: '/import', body: { event: rule.fanOut!.name, properties: itemProps } });
        });
      }
    }
  }

  private revenue(
    e: CanonicalEvent,
    ctx: MapContext,
    time: number,
    ids: Ids,
    props: Record<string, unknown>,
    result: MappedEvent,
  ): void {
    const amount = this.revenueAmount!(e);
    if (typeof amount !== 'number') {
      result.warnings.push(`"${e.event}" has no numeric total or revenue: no $amount, so Mixpanel's Revenue report will not count it`);
      return;
    }
    props.$amount = amount;
    if (!ids.userId) {
      result.warnings.push(`"${e.event}" is from an anonymous user: the transaction is not attached to a profile`);
      return;
    }
    const transaction: Record<string, unknown> = { $amount: amount, $time: new Date(time).toISOString() };
    this.transaction!(e, transaction);
    result.items.push(profileUpdate(ctx, ids.userId, e, '$append', { $transactions: transaction }));
    if (this.lifetime) {
      const add: Record<string, number> = {};
      if (this.lifetime.count) add[this.lifetime.count] = 1;
      if (this.lifetime.amount) add[this.lifetime.amount] = amount;
      if (Object.keys(add).length > 0) result.items.push(profileUpdate(ctx, ids.userId, e, '$add', add));
    }
  }

  private identify(
    e: CanonicalEvent,
    ctx: MapContext,
    time: number,
    ids: Ids,
    result: MappedEvent,
  ): void {
    if (!this.simplified && ids.userId && ids.userId !== e.anonymousId) {
      const props = this.eventProperties(e, this.globalProperties(e), noMappings, ctx, time, ids, insertId(e.messageId, '$identify'));
      props.$identified_id = ids.userId;
      props.$anon_id = e.anonymousId;
      result.items.push({ endpoint: '/import', body: { event: '$identify', properties: props } });
    }
    if (this.profile) {
      const set: Record<string, unknown> = {};
      this.profile(e, set);
      if (Object.keys(set).length > 0) result.items.push(profileUpdate(ctx, ids.distinctId, e, '$set', set));
    }
    if (result.items.length === 0) {
      result.skipped = this.simplified
        ? 'identify without traits: Simplified ID Merge links the user on the next event that carries both ids'
        : 'identify without userId or traits: nothing to merge or set';
    }
  }

  private alias(e: CanonicalEvent, ctx: MapContext, time: number, result: MappedEvent): void {
    if (this.simplified) {
      result.skipped = 'alias has no effect with Simplified ID Merge (identity is linked by $device_id and $user_id)';
      return;
    }
    const userId = typeof e.userId === 'string' ? e.userId : undefined;
    if (!userId) {
      result.rejected = 'alias needs userId (the new id)';
      return;
    }
    const from = typeof e.previousId === 'string' && e.previousId !== '' ? e.previousId : e.anonymousId;
    const invalid = invalidIdReason('previousId', from);
    if (invalid) {
      result.rejected = invalid;
      return;
    }
    result.items.push({
      endpoint: '/import',
      body: {
        event: '$create_alias',
        properties: { token: ctx.projectToken, time, distinct_id: from, alias: userId, $insert_id: insertId(e.messageId, 'alias') },
      },
    });
  }

  private groupUpdate(e: CanonicalEvent, ctx: MapContext, result: MappedEvent): void {
    if (!this.group) {
      result.skipped = 'the blueprint has no group section';
      return;
    }
    if (typeof e.groupId !== 'string' || e.groupId === '') {
      result.rejected = 'group call has no groupId';
      return;
    }
    const set: Record<string, unknown> = {};
    this.group.mappings(e, set);
    result.items.push({
      endpoint: '/groups',
      body: { $token: ctx.projectToken, $group_key: this.group.key, $group_id: e.groupId, $set: set },
    });
  }
}

const noMappings: CompiledMappings = () => {};

function compileEvent(name: string, rule: EventRule): CompiledEvent | null {
  if (rule.enabled === false) return null;
  return {
    name: rule.vendor_event_name ?? name,
    mappings: compileMappings(rule.mappings),
    fanOut: rule.fan_out && {
      items: compilePath(rule.fan_out.items),
      name: rule.fan_out.vendor_event_name,
      mappings: compileMappings(rule.fan_out.mappings),
    },
  };
}

function profileUpdate(ctx: MapContext, distinctId: string, e: CanonicalEvent, op: string, value: unknown): MixpanelItem {
  const body: Record<string, unknown> = { $token: ctx.projectToken, $distinct_id: distinctId };
  const ip = e.context?.ip;
  if (isPresent(ip)) body.$ip = ip;
  body[op] = value;
  return { endpoint: '/engage', body };
}

function describe(item: MixpanelItem): string {
  return item.endpoint === '/import' ? `Mixpanel event "${String(item.body.event)}"` : `${item.endpoint} update`;
}

/** Compiled blueprints keyed by integration revision, so each revision is compiled once. */
export class BlueprintCache {
  private readonly cache = new Map<string, CompiledBlueprint>();
  constructor(private readonly max = 1000) {}

  get(key: string, doc: Blueprint): CompiledBlueprint {
    let compiled = this.cache.get(key);
    if (!compiled) {
      compiled = new CompiledBlueprint(doc);
      if (this.cache.size >= this.max) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(key, compiled);
    }
    return compiled;
  }
}
