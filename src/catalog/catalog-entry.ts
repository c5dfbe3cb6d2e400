import type { Blueprint } from '../blueprints/blueprint.js';

export interface ConfigField {
  key: string;
  label: string;
  type: 'string' | 'secret' | 'boolean';
  required: boolean;
  placeholder?: string;
  help_text: string;
  default?: string | boolean;
  /** String rules, exactly as the server checks them on install and change (a UI can check the same). */
  validation?: { pattern: string; min_length: number; max_length: number };
  /** Whether PATCH may change it after install (all Mixpanel fields can). */
  updatable: boolean;
}

export interface Variant {
  key: string;
  name: string;
  description: string;
}

/** A catalog entry is code: what the UI shows and the defaults an install starts from. */
export interface CatalogEntry {
  key: string;
  name: string;
  description: string;
  category: 'advertising' | 'analytics' | 'attribution' | 'cdp' | 'cloud_storage' | 'other';
  status: 'ga' | 'beta' | 'alpha';
  website: string;
  config_fields: ConfigField[];
  variants: Variant[];
  /** The variant an install without `variant` gets. */
  default_variant: string;
  /** Where a user reads how to set it up. */
  docs_url: string;
  /** Blueprint per variant key; seeded into PostgreSQL on start. */
  blueprints: Record<string, Blueprint>;
  /**
   * Rules across fields, checked on the whole config an install or change leads to (a secret field
   * that is set shows as the mask): what each field's own rules cannot say.
   */
  config_rules?: (config: Record<string, unknown>) => { path: string; message: string }[];
}
