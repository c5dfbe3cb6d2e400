import { parseArrayBytes } from './json-spans.js';

describe('parseArrayBytes', () => {
  it('parses each element of an array on its own, as JSON.parse would', () => {
    const body = ' [ {"a":"]\\"[,"} , [1,[2]], "x", -1.5e2, true, null, {} ]\n';
    expect(parseArrayBytes(Buffer.from(body))).toEqual(JSON.parse(body));
    expect(parseArrayBytes(Buffer.from('[]'))).toEqual([]);
  });
  it('gives up on anything but one array, and throws on a bad element', () => {
    expect(parseArrayBytes(Buffer.from('{"a":[1]}'))).toBeUndefined();
    expect(parseArrayBytes(Buffer.from('[1] [2]'))).toBeUndefined();
    expect(parseArrayBytes(Buffer.from('[1 2]'))).toBeUndefined();
    expect(() => parseArrayBytes(Buffer.from('[{"a":1,}]'))).toThrow(SyntaxError);
  });
});
