import type { Blueprint } from '../blueprints/blueprint.js';

export interface ConfigField {
  key: string;
  label: string;
  type: 'string' | 'secret' | 'boolean';
  required: boolean;
  placeholder?: string;
  help_text: string;
  default?: string | boolean;
  max_length?: number;
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
  /** Blueprint per variant key; seeded into PostgreSQL on start. */
  blueprints: Record<string, Blueprint>;
}
