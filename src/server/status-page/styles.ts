// The status page's CSS: system fonts only, readable on a phone and a wall screen.
/** The status page's CSS: system fonts only (no network), readable on a phone and a wall screen. */
export const STATUS_PAGE_CSS = `
:root { --pass:#1a7f37; --warn:#b7791f; --fail:#cf222e; --pending:#8c959f; --bg:#f6f8fa; --card:#fff; --ink:#1f2328; --muted:#59636e; --line:#d0d7de; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background:var(--bg); color:var(--ink); }
header { display:flex; flex-wrap:wrap; gap:12px; align-items:center; padding:10px 16px; background:#24292f; color:#fff; }
header h1 { font-size:17px; margin:0 8px 0 0; }
.live { font-size:12px; padding:2px 8px; border-radius:10px; background:#57606a; }
.live.on { background:var(--pass); }
.live.off { background:var(--fail); }
.counts { display:flex; gap:6px; flex-wrap:wrap; }
.counts button { border:0; border-radius:14px; padding:4px 10px; font:inherit; cursor:pointer; background:#57606a; color:#fff; }
.counts button.active { outline:2px solid #fff; }
.counts .fail { background:var(--fail); } .counts .warn { background:var(--warn); } .counts .pass { background:var(--pass); } .counts .pending { background:var(--pending); }
header input[type=search] { padding:5px 8px; border-radius:6px; border:1px solid #57606a; min-width:180px; font:inherit; }
header .spacer { flex:1; }
header .link[hidden] { display:none; }
header .link { color:#fff; background:none; border:1px solid #57606a; border-radius:6px; padding:4px 10px; font:inherit; cursor:pointer; }
main { display:grid; grid-template-columns:minmax(0,1fr) 320px; gap:16px; padding:16px; }
@media (max-width: 1000px) { main { grid-template-columns:1fr; } }
section.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px; margin-bottom:16px; }
section.card h2 { font-size:15px; margin:0 0 8px; }
table { width:100%; border-collapse:collapse; }
th, td { text-align:left; padding:6px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-size:12px; color:var(--muted); font-weight:600; }
td.name { font-weight:600; overflow-wrap:anywhere; min-width:160px; }
td.name small { display:block; font-weight:400; color:var(--muted); }
td.msg { color:var(--muted); max-width:420px; overflow-wrap:anywhere; }
.state { display:inline-block; min-width:62px; text-align:center; padding:2px 8px; border-radius:10px; color:#fff; font-size:12px; font-weight:600; }
.state.pass { background:var(--pass); } .state.warn { background:var(--warn); } .state.fail { background:var(--fail); } .state.pending { background:var(--pending); }
tr.fail td.name { color:var(--fail); }
.strip { display:inline-flex; gap:1px; height:16px; align-items:stretch; }
.strip i { width:5px; border-radius:1px; background:var(--pending); }
.strip i.p { background:var(--pass); } .strip i.w { background:var(--warn); } .strip i.f { background:var(--fail); }
.locs { display:flex; flex-wrap:wrap; gap:3px; margin-top:4px; }
.loc { width:9px; height:9px; border-radius:50%; background:var(--pending); cursor:help; }
.loc.pass { background:var(--pass); } .loc.warn { background:var(--warn); } .loc.fail { background:var(--fail); }
.pager { display:flex; gap:8px; align-items:center; justify-content:flex-end; margin-top:8px; color:var(--muted); }
.pager button { font:inherit; padding:3px 10px; border-radius:6px; border:1px solid var(--line); background:#fff; cursor:pointer; }
.pager button:disabled { opacity:.4; cursor:default; }
.empty { color:var(--muted); font-style:italic; }
.maint { display:inline-block; margin-left:6px; padding:0 6px; border-radius:8px; background:#ddf4ff; color:#0550ae; font-size:11px; font-weight:600; }
ul.plain { list-style:none; margin:0; padding:0; }
ul.plain li { padding:6px 0; border-bottom:1px solid var(--line); }
ul.plain li:last-child { border-bottom:0; }
.sev { font-size:11px; font-weight:700; text-transform:uppercase; margin-right:6px; }
.sev.critical, .sev.fail { color:var(--fail); } .sev.warn, .sev.warning { color:var(--warn); } .sev.ok { color:var(--pass); }
section.card[hidden] { display:none; }
.warning { margin:0 0 8px; padding:6px 8px; border-radius:6px; background:#fff8c5; border:1px solid #d4a72c; }
.banner { margin:16px; padding:12px; border-radius:8px; background:#fff8c5; border:1px solid #d4a72c; }
.banner form { display:flex; gap:8px; margin-top:8px; }
.banner input { flex:1; padding:5px 8px; font:inherit; }
a { color:#0969da; }
`;
