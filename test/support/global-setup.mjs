// Jest loads global setup outside its module system; tsx imports the TypeScript that does the work.
import { tsImport } from 'tsx/esm/api';

export default async function globalSetup() {
  const { default: prepare } = await tsImport('./prepare-test-database.ts', import.meta.url);
  await prepare();
}
