import type { Blueprint, Mapping } from '../../../blueprints/blueprint.js';

/** Context → Mixpanel's default properties, on every event. */
export const contextMappings: Mapping[] = [
  { value: 'datafly-signal', target: 'mp_lib' },
  { source: 'context.ip', target: 'ip' },
  { source: 'context.userAgent', transform: 'parse_user_agent', spread: true },
  { source: 'context.page.url', target: '$current_url' },
  { source: 'context.page.referrer', target: '$referrer' },
  { source: 'context.page.referrer', transform: 'url_host', target: '$referring_domain' },
  { source: 'context.campaign.source', target: 'utm_source' },
  { source: 'context.campaign.medium', target: 'utm_medium' },
  { source: 'context.campaign.name', target: 'utm_campaign' },
  { source: 'context.campaign.term', target: 'utm_term' },
  { source: 'context.campaign.content', target: 'utm_content' },
  { source: 'context.locale', target: 'locale' },
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

/** Common trait names → Mixpanel's reserved profile properties; other traits pass as they are. */
export const profileRule: Blueprint['profile'] = {
  enabled: true,
  pass_through: true,
  exclude: ['password'],
  mappings: [
    { source: 'traits.email', target: '$email' },
    { source: 'traits.name', target: '$name' },
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
  identity: { merge_api: 'original' },
  global: { mappings: contextMappings },
  defaults: { action: 'pass', mappings: [allProperties] },
  profile: profileRule,
  group: { group_key: 'company', pass_through: true },
} satisfies Omit<Blueprint, 'events'>;
