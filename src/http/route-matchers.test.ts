import { createRequire } from 'node:module';
import { cacheValidatorRouteMatchers } from './route-matchers.js';

const fromValidator = createRequire(createRequire(import.meta.url).resolve('express-openapi-validator'));
const pathToRegexp = () => (fromValidator('path-to-regexp') as { pathToRegexp: (p: string, o?: object) => { regexp: RegExp; keys: { name: string }[] } }).pathToRegexp;

describe('the validator route matchers', () => {
  it('are compiled once per route and options, and match as before', () => {
    cacheValidatorRouteMatchers();
    cacheValidatorRouteMatchers(); // a second app in the same process does not wrap it again
    const compile = pathToRegexp();
    const a = compile('/v1/admin/integrations/:id', { sensitive: false, strict: false });
    expect(compile('/v1/admin/integrations/:id', { sensitive: false, strict: false })).toBe(a);
    expect(compile('/v1/admin/integrations/:id', { sensitive: true, strict: false })).not.toBe(a);
    expect(a.regexp.exec('/v1/admin/integrations/abc')?.[1]).toBe('abc');
    expect(a.regexp.exec('/v1/admin/integrations/abc')?.[1]).toBe('abc'); // no state kept between matches
    expect(a.regexp.exec('/v1/events')).toBeNull();
    expect(a.keys.map((k) => k.name)).toEqual(['id']);
  });
});
