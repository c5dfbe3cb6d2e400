import type { CatalogEntry } from '../catalog-entry.js';
import { defaultBlueprint } from './blueprints/default.js';
import { retailBlueprint } from './blueprints/retail.js';

/** Project tokens and API secrets: one word, as MixpanelConfigInput in openapi.yaml also says (tested). */
const TOKEN_RULES = { pattern: '^\\S+$', min_length: 1, max_length: 255 };

/** A service account is these three together, or none of them. */
const SERVICE_ACCOUNT_FIELDS = ['service_account_username', 'service_account_secret', 'project_id'];

/**
 * Mixpanel as the integration guide describes it (configuration table, variants), and what the peers'
 * users ask for beyond it (MIXPANEL.md): India residency and service-account imports, both optional.
 */
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
    {
      key: 'in_data_residency',
      label: 'India Data Residency',
      type: 'boolean',
      required: false,
      help_text: "Enable to send data to Mixpanel's India data center (api-in.mixpanel.com), for India-resident organizations. Not together with EU Data Residency.",
      default: false,
      updatable: true,
    },
    {
      key: 'service_account_username',
      label: 'Service Account Username',
      type: 'string',
      required: false,
      placeholder: 'datafly.1a2b3c.mp-service-account',
      help_text:
        'Optional: a service account (Organization Settings > Service Accounts) authenticates event imports instead of the API secret, which Mixpanel is retiring for imports. Needs the secret and the project ID too.',
      validation: TOKEN_RULES,
      updatable: true,
    },
    {
      key: 'service_account_secret',
      label: 'Service Account Secret',
      type: 'secret',
      required: false,
      help_text: "The service account's secret, shown once when the account is created.",
      validation: TOKEN_RULES,
      updatable: true,
    },
    {
      key: 'project_id',
      label: 'Project ID',
      type: 'string',
      required: false,
      placeholder: '1234567',
      help_text: 'The numeric project ID (Project Settings > Overview), which imports with a service account name.',
      validation: { pattern: '^[0-9]+$', min_length: 1, max_length: 20 },
      updatable: true,
    },
  ],
  config_rules: (config) => {
    const problems: { path: string; message: string }[] = [];
    if (config.eu_data_residency === true && config.in_data_residency === true) {
      problems.push({ path: 'body.config.in_data_residency', message: 'cannot be combined with eu_data_residency: a project lives in one region' });
    }
    const account = SERVICE_ACCOUNT_FIELDS.filter((k) => config[k] !== undefined && config[k] !== null);
    if (account.length > 0 && account.length < SERVICE_ACCOUNT_FIELDS.length) {
      for (const k of SERVICE_ACCOUNT_FIELDS.filter((f) => !account.includes(f))) {
        problems.push({ path: `body.config.${k}`, message: `is required with ${account.join(' and ')}: a service account needs its username, secret and project ID` });
      }
    }
    return problems;
  },
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
