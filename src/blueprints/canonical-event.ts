/** The platform's canonical event (PRODUCT.md), as the delivery module receives it. */
export interface CanonicalEvent {
  type: 'track' | 'page' | 'identify' | 'group' | 'alias';
  event?: string;
  name?: string;
  properties?: Record<string, unknown>;
  traits?: Record<string, unknown>;
  userId?: string | null;
  anonymousId: string;
  groupId?: string;
  previousId?: string;
  timestamp: string;
  messageId: string;
  context?: {
    page?: { url?: string; path?: string; referrer?: string; title?: string; search?: string };
    userAgent?: string;
    ip?: string;
    locale?: string;
    campaign?: { source?: string; medium?: string; name?: string; term?: string; content?: string };
    device?: Record<string, unknown>;
    consent?: Record<string, unknown>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}
