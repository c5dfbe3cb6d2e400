import { compileMappings } from './mappings.js';

const run = (mappings: Parameters<typeof compileMappings>[0], root: unknown) => {
  const out: Record<string, unknown> = {};
  compileMappings(mappings)(root, out);
  return out;
};

describe('compiled mappings', () => {
  const appMappings = [
    { source: 'context.app.version', target: '$app_version_string' },
    { source: 'context.app.build', target: '$app_build_number', transform: 'to_number' as const },
    { source: 'context.app.name', target: '$app_name', default: 'unknown app' },
    { source: 'context.app.flag', target: 'flag', when: 'context.app.enabled' },
  ];

  it('reads keys of one parent together, with transforms, defaults and conditions as written', () => {
    expect(run(appMappings, { context: { app: { version: '3.2', build: '321', flag: 'x', enabled: true } } })).toEqual({
      $app_version_string: '3.2',
      $app_build_number: 321,
      $app_name: 'unknown app',
      flag: 'x',
    });
  });

  it('a missing parent skips the group, but a default still applies', () => {
    expect(run(appMappings, { context: {} })).toEqual({ $app_name: 'unknown app' });
    expect(run(appMappings, { context: { app: 'not an object' } })).toEqual({ $app_name: 'unknown app' });
  });

  it('when several mappings write one target, the last present value wins, as listed', () => {
    const list = [
      { source: 'a.x', target: 't' },
      { source: 'a.y', target: 't' },
      { source: 'a.z', target: 'z' },
    ];
    expect(run(list, { a: { x: 1, y: 2, z: 3 } })).toEqual({ t: 2, z: 3 });
    expect(run(list, { a: { x: 1, z: 3 } })).toEqual({ t: 1, z: 3 });
  });
});
