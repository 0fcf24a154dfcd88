#!/usr/bin/env node
// The `bulwark` command. Runs the compiled JavaScript in dist/, (re)building it first
// when a source is newer (scripts/build.mjs: about a second, only after a change).
// Where dist/ cannot be written (a read-only install without a build), the sources
// run through tsx instead, which costs memory and start-up time but works.
// A .env file in the working directory fills in variables the environment lacks.
import { ensureBuilt } from '../scripts/build.mjs';

let dist;
try {
  dist = await ensureBuilt();
} catch (err) {
  process.stderr.write(
    `bulwark: could not build dist/ (${err instanceof Error ? err.message : String(err)}); running the TypeScript sources through tsx\n`,
  );
}
let entry;
if (dist) {
  entry = {
    main: new URL('../dist/cli/main.js', import.meta.url).href,
    env: new URL('../dist/cli/env-file.js', import.meta.url).href,
  };
} else {
  const { register } = await import('tsx/esm/api');
  register();
  entry = { main: '../cli/main.ts', env: '../cli/env-file.ts' };
}
const { main } = await import(entry.main);
const { withEnvFile } = await import(entry.env);
process.exitCode = await main(process.argv.slice(2), undefined, withEnvFile(process.env, '.env'));
