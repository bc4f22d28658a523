// The status page's HTML, its CSS and script inlined.
import { readFileSync } from 'node:fs';
import { STATUS_PAGE_CSS } from './styles.ts';

/**
 * The status page shell: one self-contained HTML document (CSS and script
 * inline, no external requests). It holds no data: the script reads the API
 * with the token kept in localStorage, so the shell itself can be public.
 */
export function statusPageHtml(): string {
  const script = readFileSync(new URL('./client.js', import.meta.url), 'utf8');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>scaiprobe status</title>
<link rel="icon" href="data:,">
<style>${STATUS_PAGE_CSS}</style>
</head>
<body>
<header>
  <h1>scaiprobe status</h1>
  <span id="live" class="live">connecting…</span>
  <nav id="counts" class="counts" aria-label="Filter by state"></nav>
  <input id="search" type="search" placeholder="Filter probes" aria-label="Filter probes">
  <span class="spacer"></span>
  <small id="updated"></small>
  <button id="forget" class="link" title="Forget the API token kept in this browser">Sign out</button>
</header>
<div id="login" class="banner" hidden>
  <b>This daemon needs an API token.</b> Paste the value of <code>server.token</code>; it is kept in this browser only.
  <form id="login-form"><input id="token" type="password" autocomplete="off" placeholder="API token"><button>Use token</button></form>
</div>
<main>
  <div>
    <section class="card">
      <h2>Probes</h2>
      <table>
        <thead><tr><th>State</th><th>Probe</th><th>Last run</th><th>Message</th><th>Last 30 runs</th></tr></thead>
        <tbody id="rows"><tr><td colspan="5" class="empty">Loading…</td></tr></tbody>
      </table>
      <div class="pager"><span id="range"></span><button id="prev">‹ Previous</button><button id="next">Next ›</button></div>
    </section>
  </div>
  <aside>
    <section class="card" id="agents-card" hidden><h2>Agents</h2><div id="agents"></div></section>
    <section class="card"><h2>Maintenance</h2><div id="maintenance"><p class="empty">Loading…</p></div></section>
    <section class="card"><h2>Open alerts</h2><div id="alerts"><p class="empty">Loading…</p></div><div id="alert-failures"></div></section>
    <section class="card"><h2>Indicators</h2><div id="indicators"><p class="empty">Loading…</p></div></section>
    <section class="card"><h2>Tenant reports</h2><div id="tenants"><p class="empty">Loading…</p></div></section>
  </aside>
</main>
<script>${script.replace(/<\/script/gi, '<\\/script')}</script>
</body>
</html>`;
}
