/** The HTML answer to a failed browser request: what went wrong, and what to do next. */
import { html } from './html.ts';
import { consolePage } from './layout.ts';

function nextStep(status: number, code: string) {
  if (code === 'csrf_failed') return html`Go back, reload the page and submit the form again.`;
  if (status === 401) return html`<a href="/auth/login">Sign in</a>, then try again.`;
  if (status === 403) return html`Your account may not do this. If you need to, ask an administrator of your organization. <a href="/console">Back to the console</a>.`;
  if (status === 404) return html`Check the address, or start again from <a href="/console">the console</a>.`;
  if (status === 429) return html`Too many attempts: wait a minute, then try again.`;
  if (status < 500) return html`Go back, correct what the message names, and try again.`;
  return html`Try again in a few minutes. If it keeps failing, give your IT the request id below: it finds the error in the server log.`;
}

export function errorPage(e: { status: number; code: string; title: string; detail: string; requestId?: string | undefined; extra?: Record<string, unknown> }): string {
  const errors = Array.isArray(e.extra?.['errors']) ? (e.extra['errors'] as { field?: unknown; message?: unknown }[]) : [];
  const body = html`<p>${e.detail}</p>
${errors.length > 0 ? html`<ul>${errors.map((x) => html`<li>${String(x.field ?? '')}: ${String(x.message ?? '')}</li>`)}</ul>` : ''}
<h2>What to do next</h2><p>${nextStep(e.status, e.code)}</p>
${e.requestId ? html`<p class="muted">Request id: <code>${e.requestId}</code> (error ${e.status}, ${e.code})</p>` : ''}`;
  return consolePage(e.title, body, { demo: false });
}
