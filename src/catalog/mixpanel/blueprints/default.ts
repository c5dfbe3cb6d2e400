import type { Blueprint } from '../../../blueprints/blueprint.js';
import { allProperties, blueprintBase, orderMappings, orderTransaction, pageViewed, revenueAmount, screenViewed } from './common.js';

const passThrough = (name: string) => ({ vendor_event_name: name, enabled: true, mappings: [allProperties] });

/** Standard server-side event and profile delivery with identity management and property mapping. */
export const defaultBlueprint: Blueprint = {
  ...blueprintBase,
  events: {
    page: pageViewed,
    screen: screenViewed,
    'Product Viewed': passThrough('Product Viewed'),
    'Product Added': passThrough('Product Added'),
    'Product Removed': passThrough('Product Removed'),
    'Checkout Started': passThrough('Checkout Started'),
    'Order Completed': { vendor_event_name: 'Order Completed', enabled: true, mappings: orderMappings },
    'Products Searched': passThrough('Products Searched'),
  },
  revenue: { events: ['Order Completed'], amount: revenueAmount, transaction_mappings: orderTransaction },
};
