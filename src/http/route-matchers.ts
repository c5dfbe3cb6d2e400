import { createRequire } from 'node:module';

type PathToRegexp = (path: string, options?: Record<string, unknown>) => { regexp: RegExp; keys: unknown[] };

/** Compiled matchers kept at most (the contract has a few dozen routes). */
const MAX_MATCHERS = 1000;

/**
 * express-openapi-validator 5.6.2 finds a request's route by compiling, on every request, a
 * path-to-regexp matcher for each route it tries (in sorted order, so `POST /v1/events` comes after
 * every `/v1/admin` route): some 20 compilations, a tenth of the API's CPU per small ingest request.
 * The fix upstream (cdimascio/express-openapi-validator#1217) is not released; until it is, the
 * path-to-regexp the validator loads compiles each (route, options) once. A matcher is a pure function
 * of both, and its RegExp carries no state between `exec` calls (no `g` or `y` flag).
 */
export function cacheValidatorRouteMatchers(): void {
  const fromValidator = createRequire(createRequire(import.meta.url).resolve('express-openapi-validator'));
  const module = fromValidator('path-to-regexp') as { pathToRegexp: PathToRegexp & { cached?: true } };
  const compile = module.pathToRegexp;
  if (compile.cached) return;
  const matchers = new Map<string, ReturnType<PathToRegexp>>();
  const cached: PathToRegexp & { cached?: true } = (path, options) => {
    if (typeof path !== 'string') return compile(path, options);
    const key = `${path}\u0000${JSON.stringify(options ?? {})}`;
    let matcher = matchers.get(key);
    if (!matcher) {
      matcher = compile(path, options);
      if (!matcher.regexp.global && !matcher.regexp.sticky && matchers.size < MAX_MATCHERS) matchers.set(key, matcher);
    }
    return matcher;
  };
  cached.cached = true;
  module.pathToRegexp = cached;
}
