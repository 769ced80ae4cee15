/**
 * Server-rendered HTML: a tagged template that escapes every interpolated value, and the page frame.
 * No build step, no client framework; pages work without JavaScript.
 */
const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** HTML that is already safe (made by `html`), as opposed to text that must be escaped. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

function render(value: unknown): string {
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === undefined || value === null || value === false) return '';
  return String(value).replace(/[&<>"']/g, (c) => escapes[c]!);
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  return new SafeHtml(strings.reduce((out, s, i) => out + s + (i < values.length ? render(values[i]) : ''), ''));
}

/** A whole page. `demo` adds the banner that marks the demo sign-in on every page. */
export function page(title: string, body: SafeHtml, options: { demo: boolean }): string {
  return html`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title} · Modelshare</title></head>
<body>
${options.demo ? html`<p role="alert"><strong>DEMO SIGN-IN: for evaluation only.</strong> Anyone can sign in as a demo person. Configure a real sign-in provider before real use.</p>` : ''}
<main>
<h1>${title}</h1>
${body}
</main>
</body>
</html>
`.value;
}
