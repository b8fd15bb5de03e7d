/**
 * The page's style sheet: one column on a phone, cards in a grid on a wide screen; wide
 * tables scroll inside their box instead of widening the page. Badges carry a word and a
 * border as well as a colour, and contrast meets WCAG AA on white.
 */
export const pageStyle = `
:root { --ink: #1f2933; --muted: #52606d; --line: #cbd2d9; --bg: #f5f7fa; --card: #fff;
  --good: #1e6b3a; --good-bg: #e3f4e8; --bad: #9b1c1c; --bad-bg: #fde8e8; --warn: #7a4a00; --warn-bg: #fff3d6; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { background: var(--ink); color: #fff; padding: 14px 20px; }
header h1 { margin: 0; font-size: 1.35rem; }
header p { margin: 4px 0 0; color: #d9e2ec; font-size: .9rem; overflow-wrap: anywhere; }
nav { position: sticky; top: 0; z-index: 2; background: #fff; border-bottom: 1px solid var(--line); padding: 8px 20px; display: flex; gap: 18px; flex-wrap: wrap; }
nav a { color: var(--ink); font-weight: 600; text-decoration: none; }
nav a:hover, nav a:focus { text-decoration: underline; }
main { max-width: 1320px; margin: 0 auto; padding: 8px 16px 40px; }
section { margin-top: 22px; }
h2 { font-size: 1.2rem; border-bottom: 2px solid var(--ink); padding-bottom: 4px; }
h3 { font-size: 1.05rem; margin: 0 0 8px; display: flex; align-items: center; gap: 8px; flex-wrap: wrap; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 14px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; min-width: 0; }
.muted { color: var(--muted); }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .88em; overflow-wrap: anywhere; }
.badge { display: inline-block; border: 1px solid currentColor; border-radius: 4px; padding: 0 6px; font-size: .8rem; font-weight: 600; white-space: nowrap; }
.tone-good { color: var(--good); background: var(--good-bg); }
.tone-bad { color: var(--bad); background: var(--bad-bg); }
.tone-warn { color: var(--warn); background: var(--warn-bg); }
.tone-plain { color: var(--ink); background: #fff; }
.served { border-top: 1px solid var(--line); padding-top: 8px; margin-top: 8px; }
.served-head { display: flex; gap: 8px; flex-wrap: wrap; align-items: baseline; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 6px 0 0; font-size: .9rem; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; border: 1px solid var(--line); border-radius: 6px; background: var(--card); }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; white-space: nowrap; }
td.wrap { white-space: normal; min-width: 170px; font-size: .85rem; }
td.version { white-space: normal; min-width: 150px; }
th { background: #eef2f6; position: sticky; top: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
details { margin-top: 8px; }
summary { cursor: pointer; font-weight: 600; }
details .scroll { margin-top: 6px; max-height: 420px; overflow-y: auto; }
.note { border-left: 4px solid var(--warn); background: var(--warn-bg); padding: 6px 10px; margin: 8px 0; }
ol.timeline { list-style: none; margin: 0; padding: 0; }
ol.timeline li { background: var(--card); border: 1px solid var(--line); border-left-width: 5px; border-radius: 6px; padding: 6px 12px; margin-bottom: 6px; }
ol.timeline li.kind-rollback { border-left-style: double; border-left-color: var(--warn); }
ol.timeline li.forced { border-left-color: var(--bad); border-left-style: dashed; }
.event-head { display: flex; gap: 8px; flex-wrap: wrap; align-items: baseline; }
.event-what { font-weight: 600; overflow-wrap: anywhere; }
.reason { margin: 2px 0 0; overflow-wrap: anywhere; }
.event-who { font-size: .88rem; }
.charts { display: grid; grid-template-columns: 3fr 2fr; gap: 14px; margin-bottom: 12px; }
.chart { position: relative; min-width: 0; }
.chart h4 { margin: 0 0 6px; font-size: .95rem; }
ul.changes { margin: 6px 0 0; padding-left: 20px; font-size: .9rem; }
@media (max-width: 720px) {
  body { font-size: 14px; }
  header, nav { padding-left: 12px; padding-right: 12px; }
  main { padding: 4px 10px 30px; }
  .grid { grid-template-columns: 1fr; }
  .charts { grid-template-columns: 1fr; }
  th, td { padding: 4px 6px; }
  /* Summary tables become one block per row, each cell labelled by its column. */
  table.stack thead { display: none; }
  table.stack tr { display: block; border-bottom: 2px solid var(--line); padding: 4px 0; }
  table.stack td { display: flex; gap: 12px; justify-content: space-between; border: 0; padding: 2px 8px; white-space: normal; min-width: 0; text-align: right; overflow-wrap: anywhere; }
  table.stack td::before { content: attr(data-label); color: var(--muted); text-align: left; white-space: nowrap; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  table.stack td:first-child { font-weight: 600; }
}
@media print { nav { position: static; } details .scroll { max-height: none; } }
`;
