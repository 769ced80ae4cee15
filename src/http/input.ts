/** Input checked at the edge with a zod schema; past here values are typed and trusted. */
import type { z } from 'zod';
import { AppError } from '../errors.ts';

/** Parses with a zod schema; a mismatch is a 400 `validation_failed` naming the fields. */
export function parseInput<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new AppError('validation_failed', 'The request does not match what this call accepts', {
      extra: { errors: result.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })) },
    });
  }
  return result.data;
}
