import type { Blueprint } from '../../../blueprints/blueprint.js';
import { allProperties, contextMappings, orderMappings, orderTransaction, pageViewed, profileRule, revenueAmount } from './common.js';

const passThrough = (name: string) => ({ vendor_event_name: name, enabled: true, mappings: [allProperties] });

/** Standard server-side event and profile delivery with identity management and property mapping. */
export const defaultBlueprint: Blueprint = {
  version: 2,
  delivery_mode: 'server_side',
  parameters: {},
  identity: { merge_api: 'original' },
  global: { mappings: contextMappings },
  defaults: { action: 'pass', mappings: [allProperties] },
  events: {
    page: pageViewed,
    'Product Viewed': passThrough('Product Viewed'),
    'Product Added': passThrough('Product Added'),
    'Product Removed': passThrough('Product Removed'),
    'Checkout Started': passThrough('Checkout Started'),
    'Order Completed': { vendor_event_name: 'Order Completed', enabled: true, mappings: orderMappings },
    'Products Searched': passThrough('Products Searched'),
  },
  profile: profileRule,
  revenue: { events: ['Order Completed'], amount: revenueAmount, transaction_mappings: orderTransaction },
  group: { group_key: 'company', pass_through: true },
};
