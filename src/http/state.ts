/** What the middleware puts on `ctx.state` for the handlers below it. */
import type { Log } from '../log.ts';
import type { Actor } from './authenticate.ts';

export interface AppState {
  requestId: string;
  /** The request's logger: every line it writes carries the request id. */
  log: Log;
  /** Set by the authenticate middleware when the request carries valid credentials. */
  actor?: Actor;
}
