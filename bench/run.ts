import { benchMapping } from './mapping.js';

/** `npm run bench`: every benchmark, figures as JSON (copy them into the README's table). */
async function main() {
  const only = process.argv[2];
  const results: Record<string, unknown> = { node: process.version, date: new Date().toISOString() };
  if (!only || only === 'mapping') Object.assign(results, benchMapping());
  console.log(JSON.stringify(results, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
