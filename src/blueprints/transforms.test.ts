import { TRANSFORMS, TRANSFORM_NAMES } from './transforms.js';
import { insertId } from './insert-id.js';
import { compilePath } from './paths.js';

describe('transforms', () => {
  const cases: { name: string; input: unknown; expected: unknown; format?: string }[] = [
    { name: 'to_number', input: '12.50', expected: 12.5 },
    { name: 'to_number', input: 'abc', expected: undefined },
    { name: 'to_number', input: 7, expected: 7 },
    { name: 'to_number', input: Infinity, expected: undefined },
    { name: 'to_string', input: 12, expected: '12' },
    { name: 'to_string', input: { a: 1 }, expected: '{"a":1}' },
    { name: 'to_boolean', input: 'true', expected: true },
    { name: 'to_boolean', input: 0, expected: false },
    { name: 'to_boolean', input: 'maybe', expected: undefined },
    { name: 'lowercase', input: 'AbC', expected: 'abc' },
    { name: 'uppercase', input: ['a', 1], expected: ['A', 1] },
    { name: 'trim', input: '  x ', expected: 'x' },
    { name: 'iso_to_ms', input: '2026-11-28T10:00:00.000Z', expected: 1795860000000 },
    { name: 'iso_to_ms', input: 1795860000, expected: 1795860000000 },
    { name: 'iso_to_ms', input: 'not a date', expected: undefined },
    { name: 'join', input: ['a', 'b'], expected: 'a,b' },
    { name: 'join', input: ['a', 'b'], expected: 'a / b', format: ' / ' },
    { name: 'first', input: ['x', 'y'], expected: 'x' },
    { name: 'first', input: 'x', expected: 'x' },
    { name: 'count', input: [1, 2, 3], expected: 3 },
    { name: 'count', input: 'abc', expected: undefined },
    { name: 'sha256', input: 'abc', expected: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad' },
    { name: 'sha256', input: '', expected: undefined },
    { name: 'url_host', input: 'https://www.google.com/search?q=1', expected: 'www.google.com' },
    { name: 'url_host', input: 'not a url', expected: undefined },
    { name: 'url_path', input: 'https://a.example/x/y?z=1', expected: '/x/y' },
  ];
  it.each(cases)('$name($input) gives $expected', ({ name, input, expected, format }) => {
    expect(TRANSFORMS[name as keyof typeof TRANSFORMS](input, format)).toEqual(expected);
  });

  it('sha256 normalises case and whitespace', () => {
    expect(TRANSFORMS.sha256(' A@B.c ')).toBe(TRANSFORMS.sha256('a@b.c'));
  });

  it('parse_user_agent uses ua-parser-js (browser, version, os, device)', () => {
    const iphone =
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1';
    expect(TRANSFORMS.parse_user_agent(iphone)).toEqual({ $browser: 'Mobile Safari', $browser_version: '17.1', $os: 'iOS', $device: 'iPhone' });
    expect(TRANSFORMS.parse_user_agent('')).toBeUndefined();
  });

  it('the documented list is complete', () => {
    expect(TRANSFORM_NAMES.sort()).toEqual(
      ['count', 'first', 'iso_to_ms', 'join', 'lowercase', 'parse_user_agent', 'sha256', 'to_boolean', 'to_number', 'to_string', 'trim', 'uppercase', 'url_host', 'url_path', 'url_utm', 'campaign_utm', 'full_name', 'prefix_keys'].sort(),
    );
  });
});

describe('$insert_id', () => {
  it('uses a valid messageId as it is, hashes otherwise and for derived events', () => {
    expect(insertId('6f1c1d5e-8a4b-4c3d-9e2f-0a1b2c3d4e5f')).toBe('6f1c1d5e-8a4b-4c3d-9e2f-0a1b2c3d4e5f');
    const long = insertId('a'.repeat(40));
    const odd = insertId('msg_with_underscores!');
    const derived = insertId('6f1c1d5e-8a4b-4c3d-9e2f-0a1b2c3d4e5f', '$identify');
    for (const id of [long, odd, derived]) expect(id).toMatch(/^[A-Za-z0-9-]{1,36}$/);
    expect(insertId('msg_with_underscores!')).toBe(odd);
    expect(derived).not.toBe(insertId('6f1c1d5e-8a4b-4c3d-9e2f-0a1b2c3d4e5f', 'item:0'));
  });
});

describe('paths', () => {
  it('reads dotted paths and collects through []', () => {
    const root = { a: { b: { c: 1 } }, list: [{ id: 1 }, { id: null }, { id: 3 }] };
    expect(compilePath('a.b.c')(root)).toBe(1);
    expect(compilePath('a.x.c')(root)).toBeUndefined();
    expect(compilePath('list[].id')(root)).toEqual([1, 3]);
    expect(compilePath('a[].id')(root)).toBeUndefined();
  });
});
