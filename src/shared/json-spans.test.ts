import { arraySpans, skipSpace } from './json-spans.js';

/** Each element of a JSON array parsed on its own; undefined when the bytes are not one array. */
function parseArrayBytes(b: Buffer): unknown[] | undefined {
  const array = arraySpans(b, skipSpace(b, 0));
  if (!array || skipSpace(b, array.end) !== b.length) return undefined;
  return Array.from({ length: array.items.count }, (_, k) => array.items.parse(k));
}

describe('arraySpans', () => {
  it('parses each element of an array on its own, as JSON.parse would', () => {
    const body = ' [ {"a":"]\\"[,"} , [1,[2]], "x", -1.5e2, true, null, {} ]\n';
    expect(parseArrayBytes(Buffer.from(body))).toEqual(JSON.parse(body));
    expect(parseArrayBytes(Buffer.from('[]'))).toEqual([]);
  });
  it('tells escaped quotes from closing ones after runs of backslashes', () => {
    // "x\\" ends after an escaped backslash; in "\\\"]" the quote after three backslashes is escaped
    const body = String.raw`[{"a":"x\\"},"\\\"]","\\",["\"",1]]`;
    expect(parseArrayBytes(Buffer.from(body))).toEqual(JSON.parse(body));
    expect(parseArrayBytes(Buffer.from(String.raw`["a\"]`))).toBeUndefined(); // the string never ends
  });
  it('gives up on anything but one array, and throws on a bad element', () => {
    expect(parseArrayBytes(Buffer.from('{"a":[1]}'))).toBeUndefined();
    expect(parseArrayBytes(Buffer.from('[1] [2]'))).toBeUndefined();
    expect(parseArrayBytes(Buffer.from('[1 2]'))).toBeUndefined();
    expect(() => parseArrayBytes(Buffer.from('[{"a":1,}]'))).toThrow(SyntaxError);
  });
});
