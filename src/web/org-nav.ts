/** The navigation between an organization's console pages. */
import { html, type SafeHtml } from './html.ts';

export function orgNav(id: string): SafeHtml {
  const base = `/console/organizations/${encodeURIComponent(id)}`;
  const pages = [['', 'Members'], ['/models', 'Models'], ['/partners', 'Partners'], ['/blocked', 'Blocked'], ['/audit', 'Audit log'], ['/notices', 'Notices'], ['/members/csv', 'CSV']] as const;
  return html`<nav aria-label="Organization"><ul class="pager">${pages.map(([path, label]) => html`<li><a href="${base}${path}">${label}</a></li>`)}</ul></nav>`;
}
