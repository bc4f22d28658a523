// The report's CSS: one column, readable on screen and printed on A4.
/** Report CSS: one column, print-friendly (A4, no section split across pages where avoidable). */
export const REPORT_CSS = `
@page { size: A4; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body { font: 12.5px/1.45 system-ui, "DejaVu Sans", Arial, sans-serif; color: #1f2328; max-width: 820px; margin: 0 auto; padding: 16px; }
header h1 { font-size: 22px; margin: 0 0 4px; }
.period { color: #59636e; margin: 0 0 12px; }
h2 { font-size: 16px; border-bottom: 2px solid #1f2328; padding-bottom: 3px; margin: 22px 0 8px; }
h3 { font-size: 13px; margin: 12px 0 6px; }
section { break-inside: avoid; page-break-inside: avoid; }
table { width: 100%; border-collapse: collapse; margin: 6px 0; }
th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #d0d7de; vertical-align: top; }
th { font-size: 11px; color: #59636e; }
td small { color: #59636e; }
figure { margin: 8px 0; }
canvas { width: 100% !important; max-width: 780px; height: auto !important; }
.tiles { display: grid; grid-template-columns: repeat(5, 1fr); gap: 8px; margin: 8px 0; }
.tile { border: 1px solid #d0d7de; border-radius: 6px; padding: 8px; }
.tile .label { font-size: 11px; color: #59636e; }
.tile .value { font-size: 16px; font-weight: 700; margin-top: 2px; }
.tile.bad { border-color: #cf222e; } .tile.bad .value { color: #cf222e; }
.tile .note { font-size: 10px; color: #59636e; }
.nodata { color: #59636e; font-style: italic; background: #f6f8fa; padding: 8px; border-radius: 6px; }
.verdict { font-weight: 700; padding: 0 4px; border-radius: 3px; }
.verdict.good { color: #1a7f37; } .verdict.bad { color: #cf222e; } .verdict.none { color: #59636e; }
ul.indicators li { margin-bottom: 6px; }
code { font-size: 11.5px; }
@media print { body { padding: 0; max-width: none; } a { color: inherit; } }
`;
