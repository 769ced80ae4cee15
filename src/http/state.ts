/** What the middleware puts on `ctx.state` for the handlers below it. */
import type { Log } from '../log.ts';

export interface AppState {
  requestId: string;
  /** The request's logger: every line it writes carries the request id. */
  log: Log;
}
