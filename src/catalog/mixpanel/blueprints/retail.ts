import type { Blueprint, Mapping } from '../../../blueprints/blueprint.js';
import { allProperties, blueprintBase, orderMappings, orderTransaction, pageViewed, revenueAmount, screenViewed } from './common.js';

/** Product fields under readable Mixpanel names; `from` is `properties` or a fanned-out `item`. */
function productFields(from: string): Mapping[] {
  return [
    { source: `${from}.product_id`, target: 'Product ID' },
    { source: `${from}.sku`, target: 'SKU' },
    { source: `${from}.name`, target: 'Product Name' },
    { source: `${from}.category`, target: 'Category' },
    { source: `${from}.brand`, target: 'Brand' },
    { source: `${from}.variant`, target: 'Variant' },
    { source: `${from}.price`, target: 'Price', transform: 'to_number' },
    { source: `${from}.quantity`, target: 'Quantity', transform: 'to_number' },
  ];
}

const productEvent = (name: string) => ({
  vendor_event_name: name,
  enabled: true,
  mappings: [allProperties, ...productFields('properties'), { source: 'properties.currency', target: 'Currency' }],
});

/** Ecommerce: purchase event mapping, revenue properties and product catalog fields. */
export const retailBlueprint: Blueprint = {
  ...blueprintBase,
  events: {
    page: pageViewed,
    screen: screenViewed,
    'Product Viewed': productEvent('Product Viewed'),
    'Product Added': productEvent('Product Added'),
    'Product Removed': productEvent('Product Removed'),
    'Checkout Started': {
      vendor_event_name: 'Checkout Started',
      enabled: true,
      mappings: [
        allProperties,
        { source: ['properties.value', 'properties.total', 'properties.revenue'], target: 'Cart Value', transform: 'to_number' },
        { source: 'properties.currency', target: 'Currency' },
        { source: 'properties.products[]', target: 'Item Count', transform: 'count' },
        { source: 'properties.products[].product_id', target: 'Product IDs' },
      ],
    },
    'Order Completed': {
      vendor_event_name: 'Order Completed',
      enabled: true,
      mappings: [...orderMappings, { source: 'properties.products[]', target: 'Item Count', transform: 'count' }],
      fan_out: {
        items: 'properties.products',
        vendor_event_name: 'Product Purchased',
        mappings: [
          ...productFields('item'),
          { source: 'properties.order_id', target: 'Order ID' },
          { source: 'properties.currency', target: 'Currency' },
        ],
      },
    },
    'Products Searched': {
      vendor_event_name: 'Products Searched',
      enabled: true,
      mappings: [allProperties, { source: 'properties.query', target: 'Search Query' }],
    },
  },
  revenue: {
    events: ['Order Completed'],
    amount: revenueAmount,
    transaction_mappings: orderTransaction,
    lifetime: { count_property: 'Lifetime Orders', amount_property: 'Lifetime Revenue' },
  },
};
