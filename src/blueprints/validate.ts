import type { Blueprint, Mapping } from './blueprint.js';

export interface Problem {
  path: string;
  message: string;
}

function mappingProblems(list: Mapping[] | undefined, path: string, out: Problem[], profile = false): void {
  (list ?? []).forEach((m, i) => {
    const at = `${path}[${i}]`;
    if (m.operation !== undefined && !profile) out.push({ path: `${at}.operation`, message: 'only profile mappings choose an /engage operation' });
    if (m.source === undefined && m.value === undefined) out.push({ path: at, message: 'needs a source or a value' });
    if (m.spread) {
      if (m.source === undefined) out.push({ path: at, message: 'spread needs a source object' });
      if (m.target !== undefined) out.push({ path: `${at}.target`, message: 'a spread copies keys and takes no target' });
    } else if (m.target === undefined) {
      out.push({ path: `${at}.target`, message: 'is required unless spread is true' });
    }
  });
}

/** Rules the JSON Schema in openapi.yaml cannot express; each problem names its path. */
export function blueprintProblems(bp: Blueprint): Problem[] {
  const out: Problem[] = [];
  mappingProblems(bp.global.mappings, 'body.global.mappings', out);
  mappingProblems(bp.defaults.mappings, 'body.defaults.mappings', out);
  for (const [name, rule] of Object.entries(bp.events)) {
    mappingProblems(rule.mappings, `body.events["${name}"].mappings`, out);
    mappingProblems(rule.fan_out?.mappings, `body.events["${name}"].fan_out.mappings`, out);
  }
  mappingProblems(bp.profile.mappings, 'body.profile.mappings', out, true);
  if (bp.revenue) {
    const amount = bp.revenue.amount;
    if (amount.source === undefined && amount.value === undefined) out.push({ path: 'body.revenue.amount', message: 'needs a source' });
    mappingProblems(bp.revenue.transaction_mappings, 'body.revenue.transaction_mappings', out);
  }
  mappingProblems(bp.group?.mappings, 'body.group.mappings', out);
  return out;
}
