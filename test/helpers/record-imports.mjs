// `node --import ./test/helpers/record-imports.mjs …`: appends the URL of every module the
// process loads to the file named by RECORD_IMPORTS_FILE, one per line, so a test can
// tell what a command loaded (the CLI's help must not load zod, Prisma, BullMQ…).
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`
import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (process.env.RECORD_IMPORTS_FILE) appendFileSync(process.env.RECORD_IMPORTS_FILE, result.url + '\\n');
  return result;
}
`),
);
