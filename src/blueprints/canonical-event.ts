import type { components } from '../generated/api.js';

/**
 * The platform's canonical event (PRODUCT.md) as openapi.yaml defines it (`CanonicalEvent`, generated
 * from the contract). Ingest fills `messageId` and `timestamp` when they are missing, so every queued
 * event carries both; the engine still checks them, since a queued event is read back from bytes.
 */
export type CanonicalEvent = components['schemas']['CanonicalEvent'] & { messageId: string; timestamp: string };
