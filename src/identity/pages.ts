/** The few pages of sign-in: provider choice, home, and the desktop-login approval. */
import { html, page, type SafeHtml } from '../web/html.ts';
import type { Person } from './people.ts';
import { noProviderAdvice } from './sign-in-setup.ts';

const csrfField = (token: string) => html`<input type="hidden" name="_csrf" value="${token}">`;

export function chooserPage(providers: { id: string; name: string }[], returnTo: string, demo: boolean): string {
  const items = providers.map((p) => html`<li><a href="/auth/login/${encodeURIComponent(p.id)}?return_to=${encodeURIComponent(returnTo)}">${p.name}</a></li>`);
  return page('Sign in', html`<p>Sign in with:</p><ul>${items}</ul>`, { demo });
}

/** What an operator reads at `/` (and `/auth/login`) while no sign-in provider is configured. */
function noProviderHelp(): SafeHtml {
  return html`<section role="alert"><p><strong>${noProviderAdvice.summary}</strong></p>
<p>To the operator of this server:</p><ol>${noProviderAdvice.steps.map((step) => html`<li>${step}</li>`)}</ol></section>`;
}

/** What a person can do after each reason a browser sign-in was refused. */
function advice(reason: string, loginUrl: string, publicUrl: string): SafeHtml {
  const again = html`<p><a href="${loginUrl}">Sign in again</a>.</p>`;
  switch (reason) {
    case 'wrong_browser':
    case 'state_missing':
    case 'unknown_state':
      return html`<p>Start the sign-in again in this browser, at <a href="${publicUrl}/">${publicUrl}</a>, and finish it there without switching browsers or addresses.</p>${again}`;
    case 'replayed':
      return html`<p>This page was probably reloaded or opened twice. If you are not signed in yet, start again.</p>${again}`;
    case 'expired':
      return html`<p>Sign-in must be finished within a few minutes of starting it.</p>${again}`;
    case 'provider_unavailable':
      return html`<p>The sign-in provider of your organization cannot be reached from this server right now. Try again in a few minutes; if it stays so, tell your IT department.</p>${again}`;
    default:
      return html`<p>Your sign-in provider's answer was refused by this server. Try again; if it happens again, tell your IT department and give them the request id below (the server log and audit log name the reason).</p>${again}`;
  }
}

/** The page a browser sees when its sign-in fails: what happened and what to do (API clients get a problem document). */
export function signInProblemPage(problem: { detail: string; reason: string; requestId: string; publicUrl: string }, demo: boolean): string {
  return page(
    'Sign-in did not succeed',
    html`<p role="alert">${problem.detail}.</p>
${advice(problem.reason, `${problem.publicUrl}/auth/login`, problem.publicUrl)}
<p><small>Request id: <code>${problem.requestId}</code></small></p>`,
    { demo },
  );
}

export function noProviderPage(): string {
  return page('Sign-in is not set up', noProviderHelp(), { demo: false });
}

export function homePage(person: Person | undefined, csrfToken: string | undefined, demo: boolean, extra: SafeHtml = html``, signInConfigured = true): string {
  if (!person) return page('Modelshare', signInConfigured ? html`<p><a href="/auth/login">Sign in</a></p>` : noProviderHelp(), { demo });
  return page(
    'Modelshare',
    html`<p>Signed in as ${person.name ?? person.email} (${person.email ?? 'no e-mail address'}${person.emailVerified ? '' : ', not verified'}).</p>
${extra}
<form method="post" action="/auth/logout">${csrfField(csrfToken!)}<button type="submit">Sign out</button></form>`,
    { demo },
  );
}

export function deviceEntryPage(csrfToken: string, demo: boolean, problem?: string, userCode = ''): string {
  return page(
    'Sign in a desktop client',
    html`${problem ? html`<p role="alert">${problem}</p>` : ''}
<form method="post" action="/device">${csrfField(csrfToken)}
<label>Code shown by your desktop client <input name="user_code" value="${userCode}" autocomplete="off" autocapitalize="characters" required></label>
<button type="submit">Continue</button></form>`,
    { demo },
  );
}

export function deviceConfirmPage(csrfToken: string, person: Person, clientName: string, userCode: string, demo: boolean): string {
  const decision = (value: string, label: string): SafeHtml =>
    html`<form method="post" action="/device/decision">${csrfField(csrfToken)}<input type="hidden" name="user_code" value="${userCode}"><input type="hidden" name="decision" value="${value}"><button type="submit">${label}</button></form>`;
  return page(
    'Sign in a desktop client',
    html`<p><strong>${clientName}</strong> asks to sign in as <strong>${person.email ?? person.name}</strong>.</p>
<p>Code: <strong>${userCode}</strong>. Make sure it is the code your desktop client shows.</p>
${decision('approve', 'Approve')}${decision('deny', 'Deny')}`,
    { demo },
  );
}

export function deviceDonePage(approved: boolean, clientName: string, demo: boolean): string {
  return page(
    approved ? 'Desktop client signed in' : 'Sign-in denied',
    approved ? html`<p>${clientName} is signed in. You can close this page and return to it.</p>` : html`<p>${clientName} was not signed in.</p>`,
    { demo },
  );
}

/** What a browser sees instead of being sent to a sign-in provider that cannot be reached. */
export function providerUnavailablePage(detail: string, returnTo: string, demo: boolean): string {
  return page(
    'Sign-in is unavailable',
    html`<p role="alert">${detail}</p>
<p>The server checks the provider every few moments; sign-in works again as soon as it answers. If this lasts, tell your IT department: the organization's sign-in provider is down or cannot be reached from the Modelshare server.</p>
<p><a href="/auth/login?return_to=${encodeURIComponent(returnTo)}">Try again</a></p>`,
    { demo },
  );
}
