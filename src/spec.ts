import { fileURLToPath } from 'node:url';

/** openapi.yaml at the package root, found the same way from source and from tests. */
export const SPEC_PATH = fileURLToPath(new URL('../openapi.yaml', import.meta.url));
