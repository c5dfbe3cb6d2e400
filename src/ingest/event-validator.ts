import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

function describe(errors: ErrorObject[] | null | undefined): string {
  const e = errors?.[0];
  if (!e) return 'is invalid';
  const at = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : 'event';
  if (e.keyword === 'additionalProperties') return `${at === 'event' ? '' : at + '.'}${String(e.params.additionalProperty)} is not a known field`;
  if (e.keyword === 'required') return `${at === 'event' ? '' : at + '.'}${String(e.params.missingProperty)} is required`;
  return `${at} ${e.message}`;
}

/**
 * Validates canonical events one by one against `CanonicalEvent` in openapi.yaml (the contract is the
 * only schema), so a bad event is reported by index and its neighbours still go through.
 */
export class EventValidator {
  private readonly validate: ValidateFunction;

  constructor(specPath: string) {
    const spec = parse(readFileSync(specPath, 'utf8')) as { components: unknown };
    const ajv = new Ajv({ strict: false, allErrors: false });
    addFormats(ajv);
    ajv.addSchema({ $id: 'spec', components: spec.components } as object);
    this.validate = ajv.compile({ $ref: 'spec#/components/schemas/CanonicalEvent' });
  }

  /** undefined when valid, otherwise why not. */
  reason(event: unknown): string | undefined {
    if (!this.validate(event)) return describe(this.validate.errors);
    const e = event as { type: string; event?: string };
    if (e.type === 'track' && (typeof e.event !== 'string' || e.event.trim() === '')) return 'event is required for type track';
    return undefined;
  }
}
