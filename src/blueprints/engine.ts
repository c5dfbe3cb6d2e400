import { LRUCache } from 'lru-cache';
import type { MixpanelItem } from '../destinations/mixpanel/wire.js';
import type { Blueprint, EventRule, Mapping } from './blueprint.js';
import type { CanonicalEvent } from './canonical-event.js';
import { eventReason, invalidIdReason, updateReason } from './guards.js';
import { insertId } from './insert-id.js';
import { compileMappings, compileValue, keysReadUnder, type CompiledMappings, type ValueFn } from './mappings.js';
import { compilePath, isPresent, isRecord, nonBlank, type Getter } from './paths.js';


/**
 * What one canonical event becomes. `rejected` goes to dead letters; `skipped` is intended silence
 * (`noConsent` when the consent that gates the integration was not given).
 */
export interface MappedEvent {
  items: MixpanelItem[];
  rejected?: string;
  skipped?: string;
  noConsent?: true;
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

const EVENT_TYPES = new Set(['track', 'page', 'screen', 'identify', 'group', 'alias']);
type CallType = 'track' | 'page' | 'screen' | 'identify' | 'group';
/** The /engage operations a profile mapping can choose, in the order an identify sends them. */
type ProfileOperation = NonNullable<Mapping['operation']>;
const PROFILE_OPERATIONS: ProfileOperation[] = ['$set', '$set_once', '$add', '$append', '$union', '$remove', '$unset'];
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

type Obj = Record<string, unknown>;

/** A consent value that withholds consent: false, or what consent tools write for it. */
function refuses(v: unknown): boolean {
  return v === false || v === 0 || (typeof v === 'string' && /^(false|denied|no|0|off)$/i.test(v.trim()));
}

/** `obj[key]`, else the first key equal to it ignoring case (consent tools capitalise categories). */
function lookup(obj: Obj, key: string): unknown {
  if (obj[key] !== undefined) return obj[key];
  const lower = key.toLowerCase();
  for (const k in obj) if (k.toLowerCase() === lower) return obj[k];
  return undefined;
}

/** A blueprint compiled once into closures; `map` then never re-reads the document. */
export class CompiledBlueprint {
  private readonly simplified: boolean;
  private readonly global: CompiledMappings;
  private readonly events = new Map<string, CompiledEvent | null>();
  private readonly fallback: CompiledEvent | null;
  private readonly pageEvent: CompiledEvent | null;
  private readonly screenEvent: CompiledEvent | null;
  private readonly anonymousMerge: 'auto' | 'identify' | 'merge';
  private readonly consent: { category: string; denyWhenMissing: boolean };
  private readonly contextTraits: Set<CallType>;
  /** Profile mappings by /engage operation (pass-through traits go with $set). */
  private readonly profile?: { operation: ProfileOperation; mappings: CompiledMappings }[];
  private readonly ignoreTime: boolean;
  private readonly revenueEvents: Set<string>;
  private readonly revenueAmount?: ValueFn;
  private readonly transaction?: CompiledMappings;
  private readonly lifetime?: { count?: string; amount?: string };
  private readonly group?: { key: string; mappings: CompiledMappings; idFrom: ValueFn; linkUser: boolean };

  constructor(bp: Blueprint) {
    this.simplified = bp.identity.merge_api === 'simplified';
    this.global = compileMappings(bp.global.mappings);
    this.anonymousMerge = bp.identity.anonymous_merge ?? 'auto';
    this.consent = { category: bp.consent?.category ?? 'analytics', denyWhenMissing: bp.consent?.when_missing === 'deny' };
    this.contextTraits = new Set(bp.context_traits ?? ['identify', 'group']);
    for (const [name, rule] of Object.entries(bp.events)) {
      if (name !== 'page' && name !== 'screen') this.events.set(name, compileEvent(name, rule));
    }
    this.fallback = bp.defaults.action === 'pass' ? { name: '', mappings: compileMappings(bp.defaults.mappings) } : null;
    // page and screen calls: their own rule, else the defaults under Mixpanel's usual name.
    const view = (rule: EventRule | undefined, name: string) => (rule ? compileEvent(name, rule) : this.fallback && { ...this.fallback, name });
    this.pageEvent = view(bp.events.page, 'Page Viewed');
    this.screenEvent = view(bp.events.screen, 'Screen Viewed');
    this.ignoreTime = bp.profile.ignore_time === true;
    if (bp.profile.enabled) {
      const mappings = bp.profile.mappings;
      // With pass_through, the traits no mapping reads are $set as they are (a spread: it runs first).
      const rest: Mapping[] = bp.profile.pass_through
        ? [{ source: 'traits', spread: true, exclude: [...keysReadUnder(mappings, 'traits'), ...(bp.profile.exclude ?? [])] }]
        : [];
      this.profile = PROFILE_OPERATIONS.flatMap((operation) => {
        const own = [...(operation === '$set' ? rest : []), ...mappings.filter((m) => (m.operation ?? '$set') === operation)];
        return own.length === 0 ? [] : [{ operation, mappings: compileMappings(own) }];
      });
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
      const idFrom = bp.group.group_id_from;
      this.group = {
        key: bp.group.group_key,
        mappings: (root, out) => {
          rest?.(root, out);
          explicit(root, out);
        },
        idFrom: idFrom && idFrom.length > 0 ? compileValue({ source: idFrom }) : () => undefined,
        linkUser: bp.group.link_user !== false,
      };
    }
  }

  map(e: CanonicalEvent, ctx: MapContext): MappedEvent {
    const result: MappedEvent = { items: [], warnings: [] };
    const time = typeof e?.timestamp === 'string' ? Date.parse(e.timestamp) : NaN;
    const invalid = this.basicReason(e, time);
    if (invalid) return { ...result, rejected: invalid };
    const withheld = this.consentWithheld(e);
    if (withheld) return { ...result, skipped: withheld, noConsent: true };
    const ids = this.identity(e);
    switch (e.type) {
      case 'track':
      case 'page':
      case 'screen':
        this.trackOrView(e, ctx, time, ids, result);
        break;
      case 'identify':
        this.identify(this.withContextTraits(e), ctx, time, ids, result);
        break;
      case 'alias':
        this.alias(e, ctx, time, ids, result);
        break;
      case 'group':
        this.groupUpdate(this.withContextTraits(e), ctx, time, ids, result);
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
    if (!EVENT_TYPES.has(e.type)) return `type "${String(e.type)}" is not one of track, page, screen, identify, group, alias`;
    const anon = invalidIdReason('anonymousId', e.anonymousId);
    if (anon) return anon;
    if (nonBlank(e.userId) !== undefined) {
      const user = invalidIdReason('userId', e.userId);
      if (user) return user;
    }
    if (typeof e.messageId !== 'string' || e.messageId === '') return 'messageId is missing (it makes retries safe)';
    if (Number.isNaN(time)) return 'timestamp is missing or not ISO 8601';
    if (e.type === 'track' && (typeof e.event !== 'string' || e.event.trim() === '')) return 'track event has no event name';
    return undefined;
  }

  /** Why the event must not reach Mixpanel for lack of consent, or undefined when it may. */
  private consentWithheld(e: CanonicalEvent): string | undefined {
    const { category, denyWhenMissing } = this.consent;
    const consent = e.context?.consent;
    let given: unknown;
    if (isRecord(consent)) {
      given = lookup(consent, category);
      if (given === undefined && isRecord(consent.categoryPreferences)) given = lookup(consent.categoryPreferences, category);
    }
    if (given === undefined || given === null) {
      return denyWhenMissing ? `no "${category}" consent on the event, and the blueprint denies when it is missing` : undefined;
    }
    return refuses(given) ? `"${category}" consent was not given` : undefined;
  }

  /** The event with `context.traits` merged under `traits` (the event's own traits win), when the blueprint says so. */
  private withContextTraits(e: CanonicalEvent): CanonicalEvent {
    const extra = e.context?.traits;
    if (!this.contextTraits.has(e.type as CallType) || !isRecord(extra)) return e;
    return { ...e, traits: { ...extra, ...(isRecord(e.traits) ? e.traits : {}) } };
  }

  /** Blank userIds (what several SDKs send for anonymous users) count as absent. */
  private identity(e: CanonicalEvent): Ids {
    const userId = nonBlank(e.userId);
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

  /** track, page and screen calls: one Mixpanel event (plus revenue and fan-out where the blueprint says). */
  private trackOrView(
    e: CanonicalEvent,
    ctx: MapContext,
    time: number,
    ids: Ids,
    result: MappedEvent,
  ): void {
    const rule =
      e.type === 'page' ? this.pageEvent
      : e.type === 'screen' ? this.screenEvent
      : this.events.has(e.event!) ? this.events.get(e.event!)!
      : this.fallback;
    if (!rule) {
      result.skipped = e.type === 'track' && this.events.has(e.event!)
        ? `event "${e.event}" is disabled in the blueprint`
        : `event "${e.type === 'track' ? e.event : e.type}" is not in the blueprint and defaults.action is drop`;
      return;
    }
    const name = rule.name || (e.event as string);
    const common = this.globalProperties(e);
    const extra = e.context?.traits;
    if (isRecord(extra) && this.contextTraits.has(e.type as CallType)) {
      for (const k in extra) if (extra[k] !== undefined && !(k in common)) common[k] = extra[k];
    }
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
    result.items.push(this.profileUpdate(ctx, ids.userId, e, time, '$append', { $transactions: transaction }));
    if (this.lifetime) {
      const add: Record<string, number> = {};
      if (this.lifetime.count) add[this.lifetime.count] = 1;
      if (this.lifetime.amount) add[this.lifetime.amount] = amount;
      if (Object.keys(add).length > 0) result.items.push(this.profileUpdate(ctx, ids.userId, e, time, '$add', add));
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
      const uuid = UUID_V4.test(e.anonymousId);
      if (this.anonymousMerge === 'merge' || (this.anonymousMerge === 'auto' && !uuid)) {
        result.items.push({
          endpoint: '/import',
          body: {
            event: '$merge',
            properties: {
              token: ctx.projectToken,
              time,
              distinct_id: ids.userId,
              $insert_id: insertId(e.messageId, '$merge'),
              $distinct_ids: [ids.userId, e.anonymousId],
            },
          },
        });
      } else {
        const props = this.eventProperties(e, this.globalProperties(e), noMappings, ctx, time, ids, insertId(e.messageId, '$identify'));
        props.$identified_id = ids.userId;
        props.$anon_id = e.anonymousId;
        result.items.push({ endpoint: '/import', body: { event: '$identify', properties: props } });
        if (!uuid) {
          result.warnings.push(
            `anonymousId "${e.anonymousId}" is not a UUID v4: Mixpanel does not merge it through $identify (identity.anonymous_merge "auto" or "merge" sends $merge)`,
          );
        }
      }
    }
    for (const { operation, mappings } of this.profile ?? []) {
      const values: Obj = {};
      mappings(e, values);
      const value = profileValue(operation, values);
      if (value !== undefined) result.items.push(this.profileUpdate(ctx, ids.distinctId, e, time, operation, value));
    }
    if (result.items.length === 0) {
      result.skipped = this.simplified
        ? 'identify without traits: Simplified ID Merge links the user on the next event that carries both ids'
        : 'identify without userId or traits: nothing to merge or set';
    }
  }

  private alias(e: CanonicalEvent, ctx: MapContext, time: number, ids: Ids, result: MappedEvent): void {
    if (this.simplified) {
      result.skipped = 'alias has no effect with Simplified ID Merge (identity is linked by $device_id and $user_id)';
      return;
    }
    const userId = ids.userId;
    if (!userId) {
      result.rejected = 'alias needs userId (the new id)';
      return;
    }
    const from = nonBlank(e.previousId) ?? e.anonymousId;
    const invalid = invalidIdReason('previousId', from);
    if (invalid) {
      result.rejected = invalid;
      return;
    }
    if (from === userId) {
      result.skipped = 'alias onto itself (previousId equals userId): nothing to link';
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

  private groupUpdate(e: CanonicalEvent, ctx: MapContext, time: number, ids: Ids, result: MappedEvent): void {
    const group = this.group;
    if (!group) {
      result.skipped = 'the blueprint has no group section';
      return;
    }
    const fromTraits = group.idFrom(e);
    const groupId = nonBlank(e.groupId) ?? (typeof fromTraits === 'number' ? String(fromTraits) : nonBlank(fromTraits));
    if (!groupId) {
      result.rejected = 'group call has no groupId (and no group id in the traits group.group_id_from names)';
      return;
    }
    const set: Obj = {};
    group.mappings(e, set);
    result.items.push({
      endpoint: '/groups',
      body: { $token: ctx.projectToken, $group_key: group.key, $group_id: groupId, $set: set },
    });
    if (!group.linkUser) return;
    if (ids.userId) {
      result.items.push(this.profileUpdate(ctx, ids.userId, e, time, '$union', { [group.key]: [groupId] }));
    } else {
      result.warnings.push(`group call from an anonymous user: the group is not added to a user profile ("${group.key}")`);
    }
  }

  /** One /engage update; `$time` (the event's time) keeps a late or retried update from passing for a newer one. */
  private profileUpdate(ctx: MapContext, distinctId: string, e: CanonicalEvent, time: number, op: string, value: unknown): MixpanelItem {
    const body: Obj = { $token: ctx.projectToken, $distinct_id: distinctId };
    const ip = e.context?.ip;
    if (isPresent(ip)) body.$ip = ip;
    body.$time = time;
    if (this.ignoreTime) body.$ignore_time = true;
    body[op] = value;
    return { endpoint: '/engage', body };
  }
}

const noMappings: CompiledMappings = () => {};

/**
 * The value of one /engage operation from its mapped properties, or undefined when there is nothing to
 * send: $unset lists the targets whose value is present; $union takes lists (a single value is wrapped).
 */
function profileValue(operation: ProfileOperation, values: Obj): unknown {
  const keys = Object.keys(values);
  if (keys.length === 0) return undefined;
  if (operation === '$unset') return keys;
  if (operation === '$union') {
    for (const k of keys) if (!Array.isArray(values[k])) values[k] = [values[k]];
  }
  return values;
}

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

function describe(item: MixpanelItem): string {
  return item.endpoint === '/import' ? `Mixpanel event "${String(item.body.event)}"` : `${item.endpoint} update`;
}

/** Compiled blueprints by integration revision; a blueprint document is compiled once however many revisions hold it. */
export class BlueprintCache {
  /** Integration revision → its compiled blueprint (a reference each). */
  private readonly byRevision: LRUCache<string, CompiledBlueprint>;
  /** Blueprint document (as JSON) → compiled once, shared by every revision holding the same document. */
  private readonly byDocument: LRUCache<string, CompiledBlueprint>;

  /**
   * Least recently used first out of both. Integrations installed from one catalog blueprint share its
   * compiled form, so ten thousand busy integrations cost one compile, not one per revision and again
   * whenever one falls out.
   */
  constructor(maxRevisions = 50_000, maxDocuments = 1000) {
    this.byRevision = new LRUCache({ max: maxRevisions });
    this.byDocument = new LRUCache({ max: maxDocuments });
  }

  /** `key` names the revision (`<integration id>:<revision>`), whose blueprint never changes. */
  get(key: string, doc: Blueprint): CompiledBlueprint {
    let compiled = this.byRevision.get(key);
    if (!compiled) {
      const json = JSON.stringify(doc);
      compiled = this.byDocument.get(json);
      if (!compiled) {
        compiled = new CompiledBlueprint(doc);
        this.byDocument.set(json, compiled);
      }
      this.byRevision.set(key, compiled);
    }
    return compiled;
  }
}
