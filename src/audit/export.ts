/**
 * Exporting the filtered audit log as CSV (RFC 4180) or JSON lines, streamed: rows come one at a
 * time from a better-sqlite3 iterator and leave in chunks of a few hundred, pulled by the response
 * stream, so memory stays bounded whatever the size of the log and a slow client slows the read.
 *
 * The export reads through its own read-only connection: an open iterator keeps its connection
 * busy, and the server's connection must go on writing (the audit log included) meanwhile. WAL gives
 * that connection one consistent snapshot for the whole export.
 */
import { Readable } from 'node:stream';
import type { Db } from '../db/open.ts';
import { openDatabase } from '../db/open.ts';
import type { AuditFilter, AuditQuery, AuditRow, AuditScope, AuditView } from './query.ts';

export type ExportFormat = 'csv' | 'jsonl';

/** The CSV columns, in order; the first line of every CSV export. */
export const csvColumns = ['id', 'at', 'action', 'outcome', 'actor_id', 'actor_email', 'target_type', 'target_id', 'reason', 'source', 'details', 'personal_data'] as const;

/**
 * One CSV cell: a text a spreadsheet would run as a formula (starting with = + - @, or a tab or
 * carriage return that some strip first) gets a leading apostrophe (OWASP's advice), then RFC 4180
 * quoting wherever a comma, quote or line break appears.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = typeof value === 'string' ? value : JSON.stringify(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function csvLine(view: AuditView): string {
  return `${csvColumns.map((c) => csvCell(c === 'details' && view.details !== null ? JSON.stringify(view.details) : view[c])).join(',')}\r\n`;
}

const chunkRows = 256;

/**
 * The export as a byte stream. The read-only connection is opened when the first bytes are pulled
 * and closed when the last are, or when the client goes away (the generator's `finally`).
 */
export function auditExport(db: Db, query: AuditQuery, scope: AuditScope, filter: AuditFilter, format: ExportFormat): Readable {
  const { text, params } = query.sql(scope, filter, undefined, false);
  async function* chunks(): AsyncGenerator<string> {
    const reader = openDatabase(db.name, { readonly: true, synchronous: 'normal', busyTimeoutMs: 5000 });
    const iterator = reader.prepare(text).iterate(params) as IterableIterator<AuditRow>;
    try {
      if (format === 'csv') yield `${csvColumns.join(',')}\r\n`;
      let chunk = '';
      let rows = 0;
      for (let next = iterator.next(); !next.done; next = iterator.next()) {
        const row = next.value;
        const view = query.view(row);
        chunk += format === 'csv' ? csvLine(view) : `${JSON.stringify(view)}\n`;
        if (++rows % chunkRows === 0) {
          yield chunk;
          chunk = '';
        }
      }
      if (chunk) yield chunk;
    } finally {
      // A connection with an open iterator cannot close: end the statement first (the client may have gone mid-way).
      iterator.return?.();
      reader.close();
    }
  }
  return Readable.from(chunks(), { objectMode: false, highWaterMark: 64 * 1024 });
}
