/** Mixpanel's ingestion endpoints this service sends to (MIXPANEL.md). */
export type MixpanelEndpoint = '/import' | '/engage' | '/groups';

/** One object for one endpoint: an event for /import, an update for /engage or /groups. */
export interface MixpanelItem {
  endpoint: MixpanelEndpoint;
  body: Record<string, unknown>;
}
