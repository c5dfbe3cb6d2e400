/**
 * Why this Node.js cannot run the service, or undefined when it can. `engine` is package.json's
 * `engines.node` (`>=22.12`). npm only warns about an engine mismatch, and on Node.js 20 the service
 * would start and then fail every ingest request (Map.groupBy, pg-boss 12), so it refuses to start.
 */
export function nodeVersionProblem(version: string, engine: string): string | undefined {
  const minimum = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(engine.trim());
  if (!minimum) return undefined; // a form we do not read: npm's own check is all there is
  const want = minimum.slice(1).map((n) => Number(n ?? 0));
  const have = version.replace(/^v/, '').split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    if ((have[i] ?? 0) > want[i]) return undefined;
    if ((have[i] ?? 0) < want[i]) {
      return `Node.js ${version.replace(/^v/, '')} cannot run this service: it needs ${engine.trim()} (package.json engines). npm start, npm run worker and npm test bring Node.js 24 themselves (scripts/with-node.sh); started directly, use a Node.js ${engine.trim().replace(/^>=\s*/, '')} or later.`;
    }
  }
  return undefined;
}
