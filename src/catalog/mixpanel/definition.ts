import type { CatalogEntry } from '../catalog-entry.js';
import { defaultBlueprint } from './blueprints/default.js';
import { retailBlueprint } from './blueprints/retail.js';

/** Project tokens and API secrets: one word, as MixpanelConfigInput in openapi.yaml also says (tested). */
const TOKEN_RULES = { pattern: '^\\S+$', min_length: 1, max_length: 255 };

/** Mixpanel as the integration guide describes it (configuration table, variants). */
export const mixpanel: CatalogEntry = {
  key: 'mixpanel',
  name: 'Mixpanel',
  description:
    'Server-side event and profile delivery to Mixpanel via the Ingestion API for product analytics, funnel analysis, and user segmentation.',
  category: 'analytics',
  status: 'ga',
  website: 'https://mixpanel.com',
  docs_url: 'https://docs.mixpanel.com/reference/ingestion-api',
  default_variant: 'default',
  config_fields: [
    {
      key: 'project_token',
      label: 'Project Token',
      type: 'string',
      required: true,
      placeholder: 'abc123def456789',
      help_text: 'Your Mixpanel project token. Found in Project Settings > Access Keys.',
      validation: TOKEN_RULES,
      updatable: true,
    },
    {
      key: 'api_secret',
      label: 'API Secret',
      type: 'secret',
      required: true,
      placeholder: 'your_api_secret',
      help_text: 'Your Mixpanel project API secret for server-side authentication. Found in Project Settings > Access Keys.',
      validation: TOKEN_RULES,
      updatable: true,
    },
    {
      key: 'eu_data_residency',
      label: 'EU Data Residency',
      type: 'boolean',
      required: false,
      help_text:
        "Enable to send data to Mixpanel's EU data center (api-eu.mixpanel.com). Required for EU-resident organizations. Defaults to false (US).",
      default: false,
      updatable: true,
    },
  ],
  variants: [
    {
      key: 'default',
      name: 'Default',
      description: 'Standard Mixpanel server-side event and profile delivery with identity management and property mapping.',
    },
    {
      key: 'retail',
      name: 'Retail & Ecommerce',
      description:
        'Ecommerce-optimized configuration with purchase event mapping, revenue properties, and product catalog integration.',
    },
  ],
  blueprints: { default: defaultBlueprint, retail: retailBlueprint },
};
