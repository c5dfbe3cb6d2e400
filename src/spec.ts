import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: the nearest folder above this module holding package.json (source or dist/). */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

/** openapi.yaml at the package root, found the same way from source, tests and the build (dist/). */
export const SPEC_PATH = path.join(packageRoot(), 'openapi.yaml');

const packageJson = JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string; engines: { node: string } };

/** This service's version (package.json), sent to Mixpanel as `$lib_version` by the catalog's blueprints. */
export const PACKAGE_VERSION = packageJson.version;

/** The Node.js versions it runs on (package.json's `engines.node`, `>=major.minor`). */
export const NODE_ENGINE = packageJson.engines.node;
