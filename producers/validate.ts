/** Producer-side validation: parse with a contract schema or throw a ValidationError. */
import type { z } from 'zod';
import { ValidationError, problemsFromZod, type FieldProblem } from '../lib/errors.js';

export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new ValidationError(what, problemsFromZod(parsed.error.issues));
  return parsed.data;
}

/** Parse every item of a list, collecting problems of all items before throwing. */
export function parseEachOrThrow<S extends z.ZodType>(schema: S, inputs: unknown[], what: string): Array<z.output<S>> {
  const problems: FieldProblem[] = [];
  const out: Array<z.output<S>> = [];
  inputs.forEach((input, i) => {
    const parsed = schema.safeParse(input);
    if (parsed.success) out.push(parsed.data);
    else
      problems.push(
        ...problemsFromZod(parsed.error.issues).map((p) => ({ ...p, path: `${i}${p.path ? `.${p.path}` : ''}` })),
      );
  });
  if (problems.length > 0) throw new ValidationError(what, problems);
  return out;
}
