import { storableJson } from './storable-json.js';

const note = (reason: string) => ({ unstorable: reason });

describe('storableJson', () => {
  it('replaces NULs and unpaired surrogates (in keys and values) with U+FFFD, keeps pairs and escaped backslashes', () => {
    const text = storableJson({ 'k\u0000': 'a\u0000b', lone: 'x\ud800y', low: '\udc00', pair: '😀', literal: '\\u0000 stays text', slashes: '\\\u0000' }, note);
    expect(JSON.parse(text)).toEqual({ 'k\ufffd': 'a\ufffdb', lone: 'x\ufffdy', low: '\ufffd', pair: '😀', literal: '\\u0000 stays text', slashes: '\\\ufffd' });
  });

  it('writes a note instead of a value JSON.stringify cannot write', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 20000; i++) deep = { a: deep };
    expect(JSON.parse(storableJson(deep, note)).unstorable).toBe('nested deeper than 64 levels');
    expect(JSON.parse(storableJson({ n: 1n }, note)).unstorable).toMatch(/BigInt/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(JSON.parse(storableJson(cyclic, note)).unstorable).toMatch(/circular|nested deeper/i); // a cycle is endless nesting
  });
});
