import { FakeMixpanel } from './server.js';

/** `npm run fake-mixpanel`: a stand-in Mixpanel on FAKE_MIXPANEL_PORT (default 8090) for demos. */
const port = Number(process.env.FAKE_MIXPANEL_PORT ?? 8090);
const projects = [
  {
    token: process.env.FAKE_MIXPANEL_TOKEN ?? 'abc123def456789',
    apiSecret: process.env.FAKE_MIXPANEL_SECRET ?? 'your_api_secret',
    serviceAccount: {
      username: process.env.FAKE_MIXPANEL_SA_USERNAME ?? 'demo.service-account',
      secret: process.env.FAKE_MIXPANEL_SA_SECRET ?? 'demo_sa_secret',
      projectId: process.env.FAKE_MIXPANEL_PROJECT_ID ?? '1234567',
    },
  },
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
const { serviceAccount: sa } = projects[0];
console.log(
  `fake Mixpanel on ${fake.url} (token ${projects[0].token}; service account ${sa.username}, project ${sa.projectId}); point MIXPANEL_US_URL, MIXPANEL_EU_URL and MIXPANEL_IN_URL at it`,
);
