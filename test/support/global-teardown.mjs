import { tsImport } from 'tsx/esm/api';

export default async function globalTeardown() {
  const { default: release } = await tsImport('./release-test-database.ts', import.meta.url);
  await release();
}
