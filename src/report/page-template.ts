/**
 * The report page as an Eta template. `<%= %>` escapes (autoEscape is on, and render.ts
 * checks it); `<%~ %>` places text unescaped and is used only for what pxeforge itself made:
 * the style sheet, the two scripts and the chart JSON (escaped for a script element by
 * safe-json.ts).
 */
export const pageTemplate = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="<%= it.csp %>">
<meta name="generator" content="pxeforge report">
<title>pxeforge report — <%= it.generationText %></title>
<style><%~ it.style %></style>
</head>
<body>
<header>
<h1>pxeforge report</h1>
<p><%= it.generationText %> of the PXE tree <span class="mono"><%= it.tftpRoot %></span> · written <%= it.generatedAt %></p>
</header>
<nav aria-label="sections"><a href="#channels">Channels</a><a href="#groups">Node groups</a><a href="#history">History</a><a href="#images">Images</a></nav>
<main>
<% it.warnings.forEach(function (w) { %><p class="note" role="note">warning: <%= w %></p>
<% }) %>
<section id="channels">
<h2>Channels</h2>
<div class="grid">
<% it.channels.forEach(function (c) { %>
<article class="card channel" data-channel="<%= c.name %>">
<h3><%= c.name %><% c.badges.forEach(function (b) { %> <span class="badge tone-<%= b.tone %>"><%= b.text %></span><% }) %></h3>
<% if (c.description) { %><p class="muted"><%= c.description %></p><% } %>
<% if (c.served.length === 0) { %><p class="muted">serves nothing yet</p><% } %>
<% c.served.forEach(function (s) { %>
<div class="served">
<div class="served-head"><strong><%= s.image %></strong><code class="version"><%= s.version %></code><span class="badge tone-<%= s.test.tone %>"><%= s.test.text %></span></div>
<dl class="facts"><% s.facts.forEach(function (f) { %><dt><%= f[0] %></dt><dd><%= f[1] %></dd><% }) %></dl>
</div>
<% }) %>
</article>
<% }) %>
</div>
</section>
<section id="groups">
<h2>Node groups</h2>
<p class="muted"><%= it.fleetNote %></p>
<div class="scroll"><table class="stack">
<thead><tr><th>group</th><th>image</th><th>channel</th><th>firmware</th><th class="num">members</th><th>should boot now</th><th>fleet</th></tr></thead>
<tbody>
<% it.groups.forEach(function (g) { %><tr><td data-label="group"><a href="#group-<%= g.name %>"><%= g.name %></a></td><td data-label="image"><%= g.image %></td><td data-label="channel"><%= g.channel %></td><td data-label="firmware"><%= g.firmware %></td><td class="num" data-label="members"><%= g.members %></td><td data-label="should boot now"><code><%= g.shouldBoot %></code><% if (g.notRendered) { %> <span class="badge tone-warn">not rendered: run refresh</span><% } %></td><td class="wrap" data-label="fleet"><%= g.fleetSummary %></td></tr>
<% }) %>
</tbody></table></div>
<% it.groups.forEach(function (g) { %>
<details class="group" id="group-<%= g.name %>" data-group="<%= g.name %>">
<summary><%= g.name %>: <%= g.members %> member(s), <%= g.channel %> → <%= g.shouldBoot %></summary>
<div class="scroll"><table>
<% if (it.hasFleet) { %>
<thead><tr><th>host</th><th>MAC</th><th>should boot</th><th>booted (snapshot)</th><th>verified</th><th>state</th></tr></thead>
<tbody>
<% g.rows.forEach(function (m) { %><tr class="member"><td><%= m.host %></td><td class="mono"><%= m.mac %></td><td class="mono"><%= m.shouldBoot %></td><td class="mono"><%= m.booted %></td><td><%= m.verified %></td><td><%= m.state %></td></tr>
<% }) %>
<% } else { %>
<thead><tr><th>host</th><th>MAC</th><th>should boot</th></tr></thead>
<tbody>
<% g.rows.forEach(function (m) { %><tr class="member"><td><%= m.host %></td><td class="mono"><%= m.mac %></td><td class="mono"><%= m.shouldBoot %></td></tr>
<% }) %>
<% } %>
</tbody></table></div>
</details>
<% }) %>
</section>
<section id="history">
<h2>History</h2>
<p class="muted"><%= it.timeline.length %> change(s), newest first. Marked: <span class="badge tone-bad">! FORCED</span> promotions without a passing test, <span class="badge tone-warn">↶ rollback</span>, <span class="badge tone-warn">lock recovered</span> from a pxeforge that had died.</p>
<ol class="timeline">
<% it.timeline.slice(0, it.recentChanges).forEach(function (e) { %><%~ include('@event', e) %><% }) %>
</ol>
<% if (it.timeline.length > it.recentChanges) { %>
<details class="older"><summary><%= it.timeline.length - it.recentChanges %> older change(s)</summary>
<ol class="timeline">
<% it.timeline.slice(it.recentChanges).forEach(function (e) { %><%~ include('@event', e) %><% }) %>
</ol>
</details>
<% } %>
<% if (it.timeline.length === 0) { %><p>No history yet.</p><% } %>
</section>
<section id="images">
<h2>Images</h2>
<% if (it.images.length === 0) { %><p>No images in the store yet.</p><% } %>
<% it.images.forEach(function (img) { %>
<article class="card image" data-image="<%= img.name %>">
<h3><%= img.name %> <span class="muted"><%= img.rows.length %> version(s)</span></h3>
<div class="charts">
<div class="chart"><h4>Boot phases per version</h4><% if (img.hasPhases) { %><div style="height: <%= img.chartHeight %>px"><canvas id="phases-<%= img.index %>" role="img" aria-label="boot phase timings of <%= img.name %>, also in the table below"></canvas></div><% } else { %><p class="muted">no boot test recorded phase timings yet</p><% } %></div>
<div class="chart"><h4>Artifact size per version</h4><div style="height: <%= img.chartHeight %>px"><canvas id="size-<%= img.index %>" role="img" aria-label="artifact sizes of <%= img.name %>, also in the table below"></canvas></div></div>
</div>
<div class="scroll"><table class="stack">
<thead><tr><th>version</th><th>served by</th><th>built (UTC)</th><th class="num">size</th><th class="num">packages</th><th>kernel</th><th>commit</th><th>boot test</th><th title="seconds from QEMU start to each phase">boot phases (s)</th></tr></thead>
<tbody>
<% img.rows.forEach(function (v) { %><tr class="version-row"><td class="mono version" data-label="version"><%= v.version %></td><td data-label="served by"><%= v.servedBy %></td><td data-label="built"><%= v.built %></td><td class="num" data-label="size"><%= v.size %></td><td class="num" data-label="packages"><%= v.packages %></td><td class="mono" data-label="kernel"><%= v.kernel %></td><td class="mono" data-label="commit"><%= v.commit %></td><td data-label="boot test"><span class="badge tone-<%= v.test.tone %>"><%= v.test.text %></span><% if (v.problem) { %><br><span class="badge tone-bad">problem: <%= v.problem %></span><% } %></td><td class="wrap" data-label="boot phases (s)"><%= v.phases %></td></tr>
<% }) %>
</tbody></table></div>
<% if (img.changes.length > 0) { %><h4>What changed between versions</h4><% } %>
<% img.changes.slice().reverse().forEach(function (c) { %>
<details class="change"><summary><code><%= c.from %></code> → <code><%= c.to %></code>: <%= c.summary %></summary>
<% if (c.lines.length === 0) { %><p class="muted">no differences in inputs, packages, kernel or artifacts</p><% } else { %><ul class="changes"><% c.lines.forEach(function (l) { %><li><%= l %></li><% }) %></ul><% } %>
</details>
<% }) %>
</article>
<% }) %>
</section>
</main>
<script type="application/json" id="report-chart-data"><%~ it.chartJson %></script>
<script><%~ it.chartBundle %></script>
<script><%~ it.pageScript %></script>
</body>
</html>
`;

/** One change of the history timeline; `it` is one entry of timelineView(). */
export const eventTemplate = `<li class="event kind-<%= it.kind %><%= it.forced ? ' forced' : '' %>">
<div class="event-head"><span class="mono"><%= it.at %></span><span class="muted">gen <%= it.generation %></span><% it.badges.forEach(function (b) { %><span class="badge tone-<%= b.tone %>"><%= b.text %></span><% }) %></div>
<div class="event-what"><%= it.what %></div>
<div class="muted event-who">by <span class="user"><%= it.who %></span></div>
<% if (it.reason !== null) { %><p class="reason">“<span class="reason-text"><%= it.reason %></span>”</p><% } %>
<% if (it.recovered !== null) { %><p class="reason muted"><%= it.recovered %></p><% } %>
</li>
`;
