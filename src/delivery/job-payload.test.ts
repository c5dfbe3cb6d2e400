import { page, track } from '../../test/fixtures/events.js';
import { withParsedEvents } from './delivery-job.js';
import { decodeJobBody, encodeJobBody, type JobBody } from './job-payload.js';

/** Encoded, decoded, and every event parsed back. */
const roundTrip = (body: JobBody) => {
  const back = decodeJobBody(encodeJobBody(body).bytes);
  const { events, ...rest } = withParsedEvents({ orgId: 'o', integrationId: 'i', attempt: 0, acceptedAt: 0, ...back });
  return { events, ...(rest.pending ? { pending: rest.pending } : {}) };
};

describe('job payload (newline-delimited JSON)', () => {
  it('round-trips events and pending items, whatever their characters', () => {
    const events = [page({ properties: { title: 'line\nbreak — 東京 😀', q: 'a"b\\c' } }), track('Plain', { n: 1 })];
    const pending = [{ e: 1, item: { endpoint: '/import' as const, body: { event: 'x\ny', properties: { time: 1 } } } }];
    expect(roundTrip({ events })).toEqual({ events });
    expect(roundTrip({ events, pending })).toEqual({ events, pending });
    expect(roundTrip({ events: [] })).toEqual({ events: [] });
    expect(decodeJobBody(encodeJobBody({ events: [page()] }).bytes).events.length).toBe(1);
  });
  it('writes an event given as its JSON bytes as it is, on one line even when it spans several', () => {
    const pretty = Buffer.from('{\n  "type": "page",\n  "properties": { "q": "a b" }\n}');
    const lines = encodeJobBody({ events: [pretty, Buffer.from('{"n":1}')] }).bytes.toString('utf8').split('\n');
    expect(lines).toEqual(['{"events":2,"pending":0}', '{   "type": "page",   "properties": { "q": "a b" } }', '{"n":1}']);
    const back = decodeJobBody(encodeJobBody({ events: [pretty] }).bytes).events;
    expect([back.at(0), back.stored(0).toString()]).toEqual([{ type: 'page', properties: { q: 'a b' } }, '{   "type": "page",   "properties": { "q": "a b" } }']);
  });
  it('writes one JSON value per line, so no line needs the whole payload', () => {
    const events = Array.from({ length: 3 }, () => page());
    const lines = encodeJobBody({ events }).bytes.toString('utf8').split('\n');
    expect(lines).toHaveLength(4);
    expect(JSON.parse(lines[0])).toEqual({ events: 3, pending: 0 });
    expect(lines.slice(1).map((l) => JSON.parse(l))).toEqual(events);
  });
});
