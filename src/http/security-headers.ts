import helmet from 'helmet';

/** What a browser client (the Management UI on another origin) may read of our answers. */
export const EXPOSED_HEADERS = ['ETag', 'Location', 'Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'X-Request-Id'];

/**
 * helmet's headers, except the two that only make sense behind HTTPS: Strict-Transport-Security and
 * CSP's upgrade-insecure-requests would make browsers refuse the plain-HTTP service this usually is
 * (localhost, or behind a TLS-terminating proxy that sets them itself). HSTS_MAX_AGE_SECONDS turns
 * both on.
 */
export function securityHeaders(hstsMaxAgeSeconds: number | undefined) {
  const https = hstsMaxAgeSeconds !== undefined;
  return helmet({
    strictTransportSecurity: https ? { maxAge: hstsMaxAgeSeconds, includeSubDomains: true } : false,
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: https ? [] : null } },
  });
}
