import type { Blueprint, Mapping } from '../../../blueprints/blueprint.js';
import { PACKAGE_VERSION } from '../../../spec.js';

/** Where the first-touch referrer comes from when the collector remembers it (the server has no memory of visits). */
const INITIAL_REFERRER = ['context.page.initial_referrer', 'context.initialReferrer'];

/**
 * Context → Mixpanel's default properties, on every event. Spreads run first, so the explicit app, OS
 * and device context of mobile SDKs wins over what the user agent says; campaign keys win over the
 * URL's utm_ parameters.
 */
export const contextMappings: Mapping[] = [
  { value: 'datafly-signal', target: 'mp_lib' },
  { value: PACKAGE_VERSION, target: '$lib_version' },
  { source: 'context.ip', target: 'ip' },
  { source: 'context.userAgent', transform: 'parse_user_agent', spread: true },
  { source: ['context.page.url', 'context.page.search'], transform: 'url_utm', spread: true },
  { source: 'context.campaign', transform: 'campaign_utm', spread: true },
  { source: 'context.page.url', target: '$current_url' },
  { source: 'context.page.referrer', target: '$referrer' },
  { source: 'context.page.referrer', transform: 'url_host', target: '$referring_domain' },
  { source: INITIAL_REFERRER, target: '$initial_referrer' },
  { source: INITIAL_REFERRER, transform: 'url_host', target: '$initial_referring_domain' },
  { source: 'context.locale', target: 'locale' },
  { source: 'context.timezone', target: '$timezone' },
  // Mobile SDKs (Segment spec context) → the properties Mixpanel's own mobile SDKs send.
  { source: 'context.app.name', target: '$app_name' },
  { source: 'context.app.namespace', target: '$app_namespace' },
  { source: 'context.app.version', target: '$app_version_string' },
  { source: 'context.app.build', target: '$app_build_number' },
  { source: 'context.os.name', target: '$os' },
  { source: 'context.os.version', target: '$os_version' },
  { source: 'context.device.manufacturer', target: '$manufacturer' },
  { source: 'context.device.model', target: '$model' },
  { source: 'context.device.name', target: '$device' },
  // An advertising id is never identity ($device_id stays the anonymous id), and is sent only when tracking is allowed.
  { source: 'context.device.advertisingId', target: 'advertising_id', when: 'context.device.adTrackingEnabled' },
  { source: 'context.screen.width', target: '$screen_width' },
  { source: 'context.screen.height', target: '$screen_height' },
  { source: 'context.screen.density', target: '$screen_density' },
  { source: 'context.network.carrier', target: '$carrier' },
  { source: 'context.network.wifi', target: '$wifi' },
  { source: 'context.network.bluetooth', target: '$bluetooth_enabled' },
  { source: 'context.network.cellular', target: '$cellular_enabled' },
  { source: 'context.location.city', target: '$city' },
  { source: 'context.location.region', target: '$region' },
  { source: 'context.location.country', target: 'mp_country_code' },
];

export const allProperties: Mapping = { source: 'properties', spread: true };

/** `page` → `Page Viewed` with URL, title and referrer. */
export const pageViewed = {
  vendor_event_name: 'Page Viewed',
  enabled: true,
  mappings: [
    { source: 'properties', spread: true, exclude: ['url', 'referrer', 'title', 'path', 'search'] },
    { source: 'name', target: 'Page Name' },
    { source: ['context.page.url', 'properties.url'], target: '$current_url' },
    { source: ['context.page.referrer', 'properties.referrer'], target: '$referrer' },
    { source: ['context.page.referrer', 'properties.referrer'], transform: 'url_host', target: '$referring_domain' },
    { source: ['context.page.title', 'properties.title'], target: 'current_page_title' },
    { source: ['context.page.path', 'properties.path'], target: 'current_url_path' },
    { source: ['context.page.search', 'properties.search'], target: 'current_url_search' },
  ],
} satisfies Blueprint['events'][string];

/** `screen` (mobile) → `Screen Viewed` with the screen's name. */
export const screenViewed = {
  vendor_event_name: 'Screen Viewed',
  enabled: true,
  mappings: [
    { source: 'properties', spread: true, exclude: ['name'] },
    { source: ['name', 'properties.name'], target: 'Screen Name' },
  ],
} satisfies Blueprint['events'][string];

/** First-touch values: set once on the profile, never overwritten by later visits. */
const firstTouch: Mapping[] = [
  { source: 'context.page.referrer', target: '$initial_referrer', operation: '$set_once' },
  { source: 'context.page.referrer', transform: 'url_host', target: '$initial_referring_domain', operation: '$set_once' },
  { source: ['context.page.url', 'context.page.search'], transform: ['url_utm', 'prefix_keys'], format: 'initial_', spread: true, operation: '$set_once' },
  { source: 'context.campaign', transform: ['campaign_utm', 'prefix_keys'], format: 'initial_', spread: true, operation: '$set_once' },
];

/** Common trait names → Mixpanel's reserved profile properties; other traits pass as they are. */
export const profileRule: Blueprint['profile'] = {
  enabled: true,
  pass_through: true,
  exclude: ['password'],
  mappings: [
    { source: 'traits.email', target: '$email' },
    { source: ['traits.name', 'traits'], transform: 'full_name', target: '$name' },
    { source: ['traits.first_name', 'traits.firstName'], target: '$first_name' },
    { source: ['traits.last_name', 'traits.lastName'], target: '$last_name' },
    { source: 'traits.phone', target: '$phone' },
    { source: 'traits.avatar', target: '$avatar' },
    { source: ['traits.created_at', 'traits.createdAt'], target: '$created' },
    { source: ['traits.city', 'traits.address.city'], target: '$city' },
    { source: ['traits.region', 'traits.state', 'traits.address.state', 'traits.address.region'], target: '$region' },
    { source: ['traits.country', 'traits.address.country'], target: '$country_code' },
    { source: 'traits.address.postal_code', target: 'postal_code' },
    { source: 'traits.address.street', target: 'street' },
    { source: 'traits.timezone', target: '$timezone' },
    ...firstTouch,
  ],
};

export const orderMappings: Mapping[] = [
  allProperties,
  { source: 'properties.currency', target: '$currency' },
  { source: 'properties.order_id', target: 'Order ID' },
  { source: 'properties.products[].product_id', target: 'Product ID' },
];

export const revenueAmount: Mapping = { source: ['properties.total', 'properties.revenue'], transform: 'to_number' };

export const orderTransaction: Mapping[] = [
  { source: 'properties.currency', target: '$currency' },
  { source: 'properties.order_id', target: 'Order ID' },
];

/** What both variants share: identity, context on every event, pass-through defaults, profiles, groups. */
export const blueprintBase = {
  version: 2,
  delivery_mode: 'server_side',
  parameters: {},
  identity: { merge_api: 'original', anonymous_merge: 'auto' },
  consent: { category: 'analytics', when_missing: 'allow' },
  context_traits: ['identify', 'group'],
  global: { mappings: contextMappings },
  defaults: { action: 'pass', mappings: [allProperties] },
  profile: profileRule,
  group: { group_key: 'company', group_id_from: ['traits.group_id', 'traits.groupId'], link_user: true, pass_through: true },
} satisfies Omit<Blueprint, 'events'>;
