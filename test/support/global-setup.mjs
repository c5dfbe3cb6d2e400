// Jest loads global setup outside its module system; tsx imports the TypeScript that does the work.
// tsx would keep its transforms in the temp dir: off for the whole run (set before tsx is loaded, here
// and in the test workers and the delivery threads they start, which inherit the environment).
process.env.TSX_DISABLE_CACHE = '1';

export default async function globalSetup() {
  const { tsImport } = await import('tsx/esm/api');
  const { default: prepare } = await tsImport('./prepare-test-database.ts', import.meta.url);
  await prepare();
}
