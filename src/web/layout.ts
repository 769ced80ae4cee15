/**
 * The console's page frame: landmarks (header, nav, main), a skip link, the stylesheet served from
 * the package, and the sign-out form with its CSRF field. Everything interpolated is escaped by `html`.
 */
import { html, type SafeHtml } from './html.ts';

export interface Frame {
  /** The signed-in person's name and the session's CSRF token; absent on a page for anyone. */
  who?: { name: string; csrf: string } | undefined;
  /** Organizations the person administers, for the navigation. */
  administers?: readonly { id: string; name: string }[];
  serverAdmin?: boolean;
  demo: boolean;
}

/** The hidden CSRF field every console form carries (the router checks `_csrf` on every unsafe session route). */
export const csrfField = (csrf: string) => html`<input type="hidden" name="_csrf" value="${csrf}">`;

export function consolePage(title: string, body: SafeHtml, frame: Frame): string {
  const nav = frame.who
    ? html`<nav aria-label="Console"><ul>
<li><a href="/console">My models</a></li>
<li><a href="/console/tokens">Access tokens</a></li>
<li><a href="/console/sessions">Sign-ins</a></li>
<li><a href="/console/profile">Profile</a></li>
${(frame.administers ?? []).map((o) => html`<li><a href="/console/organizations/${encodeURIComponent(o.id)}">${o.name}</a></li>`)}
${frame.serverAdmin ? html`<li><a href="/console/admin">Server</a></li>` : ''}
</ul></nav>
<form method="post" action="/auth/logout">${csrfField(frame.who.csrf)}<button type="submit" class="secondary">Sign out ${frame.who.name}</button></form>`
    : '';
  return html`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title} · Modelshare</title><link rel="stylesheet" href="/assets/console.css"></head>
<body>
<a class="skip" href="#content">Skip to content</a>
<header class="top"><a class="brand" href="/console">Modelshare</a>${nav}</header>
${frame.demo ? html`<div class="warning" role="note"><strong>DEMO SIGN-IN: for evaluation only.</strong> Configure a real sign-in provider before real use.</div>` : ''}
<main id="content" tabindex="-1">
<h1>${title}</h1>
${body}
</main>
</body>
</html>
`.value;
}

/** A confirmation page for a destructive action: what will happen, in words, and one button to do it. */
export function confirmBody(what: SafeHtml, action: string, button: string, csrf: string, back: string): SafeHtml {
  return html`<div class="warning"><p>${what}</p></div>
<form method="post" action="${action}">${csrfField(csrf)}<button type="submit" class="danger">${button}</button> <a href="${back}">Cancel, go back</a></form>`;
}
