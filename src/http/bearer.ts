/**
 * The credentials of an `Authorization: Bearer …` header, the scheme in any case (as HTTP has it);
 * undefined for any other header. The Management API's tokens, ingestion keys and METRICS_TOKEN.
 */
export function bearerToken(header: string | undefined): string | undefined {
  return /^Bearer +(\S+)$/i.exec(header ?? '')?.[1];
}
