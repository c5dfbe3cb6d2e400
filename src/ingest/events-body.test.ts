import { eventSpans } from './events-body.js';

/** The events as eventSpans cuts them, each parsed on its own. */
const cut = (body: string) => {
  const bytes = Buffer.from(body);
  const spans = eventSpans(bytes);
  if (!spans) return undefined;
  return Array.from({ length: spans.count }, (_, k) => spans.parse(k));
};

describe('eventSpans (cutting {"events":[…]} into events without parsing it whole)', () => {
  it.each([
    { name: 'compact', body: '{"events":[{"a":1},{"b":[2,{"c":"}]"}]}]}' },
    { name: 'spaced and pretty', body: ' \n{ "events" :\r\n [\t{ "a" : 1 } ,\n { "b" : null } ]\n}\n ' },
    { name: 'strings holding brackets, quotes, escapes and commas', body: '{"events":[{"s":"a\\"b]}{[,\\\\"},{"t":"\\u005d\\\\\\""}]}' },
    { name: 'primitives and nested arrays', body: '{"events":[1,-2.5e3,true,false,null,"x",[[]],{}]}' },
    { name: 'no events', body: '{"events":[]}' },
    { name: 'multi-byte characters', body: '{"events":[{"t":"東京 😀 é"},{"u":"ü"}]}' },
  ])('$name: the same events as JSON.parse', ({ body }) => {
    expect(cut(body)).toEqual((JSON.parse(body) as { events: unknown[] }).events);
  });

  it.each([
    { name: 'another key first', body: '{"batch":1,"events":[{"a":1}]}' },
    { name: 'a second key after', body: '{"events":[{"a":1}],"events":[]}' },
    { name: 'an escaped key', body: '{"\\u0065vents":[{"a":1}]}' },
    { name: 'events not an array', body: '{"events":{"a":1}}' },
    { name: 'a missing comma', body: '{"events":[{"a":1} {"b":2}]}' },
    { name: 'trailing bytes', body: '{"events":[{"a":1}]} x' },
    { name: 'an unterminated string', body: '{"events":[{"a":"1}]}' },
    { name: 'an unclosed object', body: '{"events":[{"a":{"b":1}]}' },
    { name: 'not an object', body: '[{"events":[]}]' },
  ])('$name: left to JSON.parse of the whole body', ({ body }) => {
    expect(eventSpans(Buffer.from(body))).toBeUndefined();
  });
});
