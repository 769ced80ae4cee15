/**
 * The opaque `next` cursors of the admin lists: the sort key and id of the last row of a page, with
 * the sort they belong to, as base64url JSON. A cursor of another sort or list is refused, so a
 * client that changes the order starts again rather than getting a page from the middle of nowhere.
 */
import { z } from 'zod';

export type CursorKey = string | number;

export interface Cursor {
  /** What the list was sorted by, e.g. `size:desc`; a cursor only continues the same sort. */
  sort: string;
  key: CursorKey;
  id: string;
}

const shape = z.object({ s: z.string().max(40), k: z.union([z.string().max(1000), z.number()]), i: z.string().max(200) }).strict();

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify({ s: cursor.sort, k: cursor.key, i: cursor.id }), 'utf8').toString('base64url');
}

/** The cursor in `value`, or undefined when it is not one this server gave. */
export function decodeCursor(value: string): Cursor | undefined {
  try {
    const parsed = shape.safeParse(JSON.parse(Buffer.from(value, 'base64url').toString('utf8')));
    return parsed.success ? { sort: parsed.data.s, key: parsed.data.k, id: parsed.data.i } : undefined;
  } catch {
    return undefined;
  }
}

/** `?next=`: a cursor of this server, decoded at the edge. */
export const cursorParam = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,2000}$/, 'is not a cursor this server gave')
  .transform((value, ctx) => {
    const cursor = decodeCursor(value);
    if (!cursor) {
      ctx.addIssue({ code: 'custom', message: 'is not a cursor this server gave' });
      return z.NEVER;
    }
    return cursor;
  });

/** `?limit=`: 1 to 200, 50 when absent (PROTOCOL.md). */
export const limitParam = z
  .string()
  .regex(/^[1-9]\d{0,2}$/, 'must be from 1 to 200')
  .transform(Number)
  .pipe(z.number().max(200, 'must be from 1 to 200'))
  .optional()
  .transform((v) => v ?? 50);

/** Search text as people type it, compared without case or Unicode compatibility differences. */
export function normalizeSearch(text: string): string {
  return text.normalize('NFKC').toLowerCase().trim();
}
