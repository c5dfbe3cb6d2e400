/** The blueprint document (version 2). Its JSON Schema is `Blueprint` in openapi.yaml. */
export interface Blueprint {
  version: 2;
  delivery_mode: 'server_side';
  parameters?: Record<string, string | number | boolean>;
  identity: { merge_api: 'original' | 'simplified' };
  global: { mappings: Mapping[] };
  defaults: { action: 'pass' | 'drop'; mappings: Mapping[] };
  events: Record<string, EventRule>;
  profile: ProfileRule;
  revenue?: RevenueRule;
  group?: GroupRule;
}

export type Transform =
  | 'to_number'
  | 'to_string'
  | 'to_boolean'
  | 'lowercase'
  | 'uppercase'
  | 'trim'
  | 'iso_to_ms'
  | 'join'
  | 'first'
  | 'count'
  | 'sha256'
  | 'parse_user_agent'
  | 'url_host'
  | 'url_path';

export interface Mapping {
  /** Dotted path (`properties.total`, `context.page.url`, `properties.products[].sku`); a list means the first present. */
  source?: string | string[];
  /** A constant instead of a source. */
  value?: unknown;
  /** Mixpanel property name; absent only with `spread`. */
  target?: string;
  transform?: Transform | Transform[];
  /** Argument for transforms that take one (the separator of `join`). */
  format?: string;
  value_map?: Record<string, unknown>;
  default?: unknown;
  /** Copy every key of the source object into the output (keys other mappings read are left out). */
  spread?: boolean;
  exclude?: string[];
}

export interface EventRule {
  vendor_event_name?: string;
  enabled?: boolean;
  mappings: Mapping[];
  /** One extra Mixpanel event per element of an array, e.g. one `Product Purchased` per product. */
  fan_out?: { items: string; vendor_event_name: string; mappings: Mapping[] };
}

export interface ProfileRule {
  enabled: boolean;
  /** Trait → reserved profile property; traits read here are not passed through again. */
  mappings: Mapping[];
  /** Traits not read by a mapping are `$set` under their own names. */
  pass_through: boolean;
  exclude?: string[];
}

export interface RevenueRule {
  events: string[];
  /** Where the amount comes from; becomes the event's `$amount` and the transaction's `$amount`. */
  amount: Mapping;
  /** Extra properties of the `$transactions` entry appended to the profile. */
  transaction_mappings: Mapping[];
  /** `$add` to the profile on each revenue event (lifetime totals). */
  lifetime?: { count_property?: string; amount_property?: string };
}

export interface GroupRule {
  /** Mixpanel group key (`$group_key`) that `group` calls set properties on. */
  group_key: string;
  mappings?: Mapping[];
  pass_through: boolean;
}
