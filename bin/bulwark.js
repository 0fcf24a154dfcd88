#!/usr/bin/env node
// The `bulwark` command. Runs the TypeScript sources through tsx (no build step).
// A .env file in the working directory fills in variables the environment lacks.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
const { withEnvFile } = await import('../cli/env-file.ts');
process.exitCode = await main(process.argv.slice(2), undefined, withEnvFile(process.env, '.env'));
