/**
 * The one catalog of error codes a client can see, and the error type that carries them.
 *
 * Codes are stable: clients branch on them, so a code is never renamed or reused. The title is the
 * short, generic sentence of RFC 9457; `detail` says what happened in this case and must never name
 * files, SQL or secrets.
 */
export const errorCatalog = {
  bad_request: { status: 400, title: 'The request is not valid' },
  malformed_json: { status: 400, title: 'The request body is not valid JSON' },
  validation_failed: { status: 400, title: 'The request does not match what this call accepts' },
  unauthorized: { status: 401, title: 'Authentication is required' },
  forbidden: { status: 403, title: 'You may not do this' },
  not_found: { status: 404, title: 'There is nothing here' },
  method_not_allowed: { status: 405, title: 'This method is not allowed here' },
  not_acceptable: { status: 406, title: 'No acceptable representation' },
  conflict: { status: 409, title: 'The request conflicts with the current state' },
  not_up_to_date: { status: 409, title: 'The model has moved on; read in first' },
  history_pruned: { status: 410, title: 'That part of the history was removed by the retention policy' },
  events_expired: { status: 410, title: 'The events asked for are older than the replay window' },
  request_timeout: { status: 408, title: 'The request did not arrive in time' },
  length_required: { status: 411, title: 'A Content-Length or chunked body is required' },
  payload_too_large: { status: 413, title: 'The request body is larger than the limit' },
  unsupported_media_type: { status: 415, title: 'This content type is not accepted here' },
  range_not_satisfiable: { status: 416, title: 'The requested range is not satisfiable' },
  digest_mismatch: { status: 400, title: 'The body does not match its Content-Digest' },
  digest_required: { status: 400, title: 'A Content-Digest header is required' },
  request_incomplete: { status: 400, title: 'The request body ended before it was complete' },
  header_too_large: { status: 431, title: 'The request headers are too large' },
  too_many_requests: { status: 429, title: 'Too many requests' },
  internal_error: { status: 500, title: 'Something went wrong on the server' },
  blob_damaged: { status: 500, title: 'The stored bytes are damaged; an administrator must restore them from a backup' },
  not_implemented: { status: 501, title: 'This method is not supported' },
  service_unavailable: { status: 503, title: 'The service is not available right now' },
  insufficient_storage: { status: 507, title: 'The server has no storage space left for this' },
  provider_unavailable: { status: 503, title: 'The sign-in provider cannot be reached' },
  sign_in_failed: { status: 401, title: 'The sign-in did not succeed' },
  csrf_failed: { status: 403, title: 'The request did not carry a valid CSRF token' },
  insufficient_scope: { status: 403, title: 'The token does not allow this' },
  email_unverified: { status: 403, title: 'Your e-mail address is not verified' },
  sharing_disabled: { status: 403, title: 'Sharing is turned off for you here' },
  blocked: { status: 403, title: 'This address is blocked by the organization' },
  reverification_required: { status: 403, title: 'Sign in again through your provider before sharing' },
  no_seats_left: { status: 409, title: 'The organization has no sharing seat left' },
  invitation_limit: { status: 429, title: 'An invitation limit has been reached' },
  model_locked: { status: 423, title: 'The model is locked' },
  rolled_back: { status: 409, title: 'The model was rolled back; join again from the newest baseline' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof errorCatalog;

/**
 * An error meant for the client. Everything else that reaches the error middleware becomes a
 * generic `internal_error`, with the original only in the server log.
 */
export class AppError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  /** Extra members of the problem document, e.g. `head` for `not_up_to_date` or `limit` for 413. */
  readonly extra: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(
    code: ErrorCode,
    detail?: string,
    options: { extra?: Record<string, unknown>; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(detail ?? errorCatalog[code].title, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = errorCatalog[code].status;
    this.extra = options.extra ?? {};
    this.headers = options.headers ?? {};
  }
}
