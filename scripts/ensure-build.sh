#!/usr/bin/env bash
# Before npm start, npm run worker, token and rotate-secrets: brings dist/ up to date where TypeScript
# is installed (npm install); where it is not (npm install --omit=dev), a build must be there already.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ -x node_modules/.bin/tsc ]; then exec npm run -s build; fi
if [ ! -f dist/src/main.js ]; then
  echo 'no build in dist/: run npm run build where TypeScript is installed' >&2
  exit 1
fi
