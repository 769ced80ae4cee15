/** The console's only stylesheet, kept in a module so that it ships in the build with the code (no copy step). */
export const consoleCss = `
/* The console's only stylesheet: served from the package (no inline style, no CDN). */
:root { --fg: #1b1f24; --muted: #4a5260; --bg: #ffffff; --line: #c9cfd8; --accent: #0b5cad; --danger: #a4161a; --ok: #1e6b34; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
a:focus, button:focus, input:focus, select:focus { outline: 3px solid #f5a623; outline-offset: 2px; }
.skip { position: absolute; left: -9999px; }
.skip:focus { left: 1rem; top: 1rem; background: #fff; padding: .5rem; z-index: 2; }
header.top { display: flex; flex-wrap: wrap; align-items: center; gap: 1rem; padding: .75rem 1.5rem; border-bottom: 1px solid var(--line); background: #f4f6f9; }
header.top .brand { font-weight: 700; color: var(--fg); text-decoration: none; }
header.top nav ul { display: flex; flex-wrap: wrap; gap: 1rem; list-style: none; margin: 0; padding: 0; }
header.top form { margin-left: auto; }
main { padding: 1rem 1.5rem 3rem; max-width: 72rem; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f4f6f9; }
form.inline { display: inline; }
form.filters { display: flex; flex-wrap: wrap; gap: .75rem; align-items: flex-end; }
form.filters label, form.stack label { display: block; font-weight: 600; }
form.stack > div { margin-bottom: .75rem; }
input, select, button { font: inherit; padding: .3rem .5rem; }
button { border: 1px solid var(--accent); background: var(--accent); color: #fff; border-radius: 3px; cursor: pointer; }
button.secondary { background: #fff; color: var(--accent); }
button.danger { background: var(--danger); border-color: var(--danger); }
.notice { border-left: 4px solid var(--ok); background: #eef7f0; padding: .5rem 1rem; }
.warning { border-left: 4px solid var(--danger); background: #fbeeee; padding: .5rem 1rem; }
.secret { font-family: ui-monospace, monospace; font-size: 1.1rem; word-break: break-all; background: #f4f6f9; padding: .5rem; }
.pager { display: flex; gap: 1rem; list-style: none; padding: 0; margin: .5rem 0; }
.muted { color: var(--muted); }
`;
