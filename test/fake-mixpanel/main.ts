import { FakeMixpanel } from './server.js';

/** `npm run fake-mixpanel`: a stand-in Mixpanel on FAKE_MIXPANEL_PORT (default 8090) for demos. */
const port = Number(process.env.FAKE_MIXPANEL_PORT ?? 8090);
const projects = [
  { token: process.env.FAKE_MIXPANEL_TOKEN ?? 'abc123def456789', apiSecret: process.env.FAKE_MIXPANEL_SECRET ?? 'your_api_secret' },
];
const fake = new FakeMixpanel(projects);
fake.faults = {
  rate429: Number(process.env.FAKE_MIXPANEL_RATE_429 ?? 0),
  rate5xx: Number(process.env.FAKE_MIXPANEL_RATE_5XX ?? 0),
  rateTimeout: Number(process.env.FAKE_MIXPANEL_RATE_TIMEOUT ?? 0),
};
let last = 0;
setInterval(() => {
  const total = [...fake.state.events.values()].reduce((n, l) => n + l.length, 0);
  if (total !== last) console.log(JSON.stringify({ events: total, duplicates: fake.state.duplicates, engage: fake.state.engage.length }));
  last = total;
}, 1000).unref();
await fake.start(port);
console.log(`fake Mixpanel on ${fake.url} (token ${projects[0].token}); point MIXPANEL_US_URL and MIXPANEL_EU_URL at it`);
