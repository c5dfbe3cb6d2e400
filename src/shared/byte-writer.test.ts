import { ByteWriter } from './byte-writer.js';

describe('ByteWriter', () => {
  it('grows past its first buffer and keeps every byte, multi-byte characters included', () => {
    const w = new ByteWriter(8);
    const parts = ['[', 'ascii', 'é', '東京', '😀', 'x'.repeat(5000), ']'];
    let written = 0;
    for (const p of parts) written += w.text(p);
    w.byte(0x0a);
    const expected = Buffer.from(parts.join('') + '\n');
    expect(written + 1).toBe(expected.length);
    expect(w.length).toBe(expected.length);
    expect(w.bytes().equals(expected)).toBe(true);
  });
  it('grows one byte at a time too', () => {
    const w = new ByteWriter(1);
    for (let i = 0; i < 300; i++) w.byte(i % 256);
    expect([...w.bytes()]).toEqual(Array.from({ length: 300 }, (_, i) => i % 256));
  });
});
