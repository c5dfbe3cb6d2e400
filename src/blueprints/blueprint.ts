import type { components } from '../generated/api.js';

/**
 * The blueprint document (version 2), as openapi.yaml defines it (`Blueprint`): these types are
 * generated from the contract (`npm run types`), never written a second time by hand.
 */
type Schemas = components['schemas'];

export type Blueprint = Schemas['Blueprint'];
/** `source` (dotted paths, a list = the first present) or `value`, to `target` (or `spread`), with transforms. */
export type Mapping = Schemas['Mapping'];
export type Transform = Schemas['Transform'];
/** Per Datafly event: Mixpanel name, mappings, optional `fan_out` (one Mixpanel event per array element). */
export type EventRule = Schemas['EventRule'];
/** Traits → reserved profile properties; with `pass_through`, traits not read by a mapping are `$set` as they are. */
export type ProfileRule = Blueprint['profile'];
/** Revenue events: `$amount` from `amount`, a `$transactions` entry, optional lifetime `$add`. */
export type RevenueRule = NonNullable<Blueprint['revenue']>;
/** `group` calls: `/groups` `$set` on `group_key`. */
export type GroupRule = NonNullable<Blueprint['group']>;
