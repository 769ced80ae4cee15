/**
 * `GET /status` (HTML) and `GET /status.json`: public, for everyone who wants to know whether the
 * server is well. Both show the same report; nothing in it is sensitive (see sources.ts). Mounted
 * before user authentication, so credentials sent along change nothing.
 */
import { access, route, type AnyRoute } from '../http/route-table.ts';
import type { Log } from '../log.ts';
import { html, page } from '../web/html.ts';
import { serverVersion, type StatusSource } from './sources.ts';
import { checkStatus, type StatusReport } from './status-service.ts';

export interface StatusRouteOptions {
  /** Read at each request, so sources added later (the backups') are shown. */
  sources: () => readonly StatusSource[];
  now: () => Date;
  log: Log;
  demo: boolean;
}

const labels = { up: 'Up', degraded: 'Degraded', down: 'Down' } as const;

function render(report: StatusReport, demo: boolean): string {
  const rows = report.checks.map(
    (c) => html`<tr><th scope="row">${c.name.replaceAll('_', ' ')}</th><td data-state="${c.state}"><strong>${labels[c.state]}</strong></td><td>${c.reason}</td></tr>`,
  );
  return page(
    `Status: ${labels[report.status]}`,
    html`<p>Modelshare ${report.version}, checked ${report.checked_at}.</p>
<table>
<thead><tr><th scope="col">Part</th><th scope="col">State</th><th scope="col">Why</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
<p><a href="/status.json">The same as JSON</a></p>`,
    { demo },
  );
}

export function statusRoutes(options: StatusRouteOptions): AnyRoute[] {
  const version = serverVersion();
  const report = () => checkStatus(options.sources(), { ...options, version });
  return [
    route({
      method: 'GET', path: '/status.json', summary: 'Whether the server is well, part by part', access: access.public,
      handler: async (_input, ctx) => {
        ctx.set('Cache-Control', 'no-store');
        return report();
      },
    }),
    route({
      method: 'GET', path: '/status', summary: 'The status page', access: access.public, html: true,
      handler: async (_input, ctx) => {
        ctx.set('Cache-Control', 'no-store');
        ctx.type = 'text/html; charset=utf-8';
        ctx.body = render(await report(), options.demo);
      },
    }),
  ];
}
