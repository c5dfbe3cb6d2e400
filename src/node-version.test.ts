import { readFileSync } from 'node:fs';
import { nodeVersionProblem } from './node-version.js';
import { NODE_ENGINE } from './spec.js';

describe('nodeVersionProblem', () => {
  it('reads the engine from package.json', () => {
    expect(NODE_ENGINE).toBe((JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } }).engines.node);
  });

  it.each(['22.12.0', '22.12.1', '22.13.0', '24.22.3', 'v26.0.0', '100.0.0'])('lets %s run >=22.12', (version) => {
    expect(nodeVersionProblem(version, '>=22.12')).toBeUndefined();
  });

  it.each(['20.20.2', 'v22.11.9', '22.0.0', '18.19.1'])('refuses %s under >=22.12, naming both versions', (version) => {
    expect(nodeVersionProblem(version, '>=22.12')).toMatch(new RegExp(`^Node\\.js ${version.replace(/^v/, '').replace(/\./g, '\\.')} cannot run this service: it needs >=22\\.12`));
  });

  it('compares patch versions when the engine names one', () => {
    expect(nodeVersionProblem('22.12.0', '>=22.12.1')).toBeDefined();
    expect(nodeVersionProblem('22.12.1', '>=22.12.1')).toBeUndefined();
  });

  it('leaves an engine it cannot read to npm', () => {
    expect(nodeVersionProblem('20.0.0', '^22 || ^24')).toBeUndefined();
  });
});
