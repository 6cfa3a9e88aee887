"""The report page: HTML, CSS and JavaScript in one string, no external resource.

``__TITLE__`` and ``__DATA__`` are replaced by :func:`mmimdb.report.page.write_report` (the
data as JSON inside a ``<script type="application/json">``, the movies as columns). The
browser filters the movies in memory and draws one page of cards at a time, so that 25,959
movies stay fast; the plots the search reads come from ``search/NNNN.js`` once the page has
opened, a movie's details from ``details/NNNN.js`` when it is opened.
"""

PAGE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>__TITLE__</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
  header { background: #263238; color: white; padding: 10px 18px; display: flex; gap: 18px; align-items: center; }
  header h1 { font-size: 18px; margin: 0 12px 0 0; }
  header button { background: none; border: 1px solid #90a4ae; color: white; padding: 5px 12px; cursor: pointer; border-radius: 4px; }
  header button.active { background: #546e7a; }
  main { padding: 14px 18px; }
  section { display: none; } section.active { display: block; }
  #controls { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; margin-bottom: 10px; }
  #controls input[type=search] { width: 320px; padding: 5px; }
  #count { font-weight: bold; }
  #grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; }
  .card { background: white; border: 1px solid #ddd; border-radius: 6px; padding: 6px; cursor: pointer; display: flex; gap: 6px; }
  .card:hover { border-color: #546e7a; }
  .card img, .card .noposter { width: 50px; height: 80px; object-fit: cover; flex: none; background: #eee; }
  .card .title { font-size: 13px; font-weight: 600; }
  .card .meta { font-size: 11px; color: #555; }
  .chip { display: inline-block; font-size: 10px; background: #e3f2fd; border-radius: 3px; padding: 0 3px; margin: 1px; }
  .chip.fp { background: #ffebee; text-decoration: line-through; } .chip.tp { background: #e8f5e9; }
  .split-train { color: #1565c0; } .split-dev { color: #6a1b9a; } .split-test { color: #c62828; }
  #pager { margin: 12px 0; display: flex; gap: 8px; align-items: center; }
  #detail { position: fixed; top: 0; right: 0; width: min(640px, 100%); height: 100%; overflow-y: auto; background: white;
            box-shadow: -3px 0 12px rgba(0,0,0,.25); padding: 16px 20px; box-sizing: border-box; display: none; }
  #detail.open { display: block; }
  #detail img { float: right; margin: 0 0 8px 12px; width: 80px; }
  #detail table, .md table, .errors table { border-collapse: collapse; font-size: 12px; margin: 6px 0; }
  #detail td, #detail th, .md td, .md th, .errors td, .errors th { border: 1px solid #ddd; padding: 2px 6px; text-align: left; }
  .md img { max-width: 160px; }
  figure { margin: 10px 0 20px; } figure img { max-width: 100%; border: 1px solid #ddd; }
  figcaption { font-size: 13px; color: #444; }
  .close { float: right; cursor: pointer; }
  .plot { white-space: pre-wrap; margin: 6px 0; }
</style>
</head>
<body>
<header>
  <h1>__TITLE__</h1>
  <button data-view="movies" class="active">Movies</button>
  <button data-view="dataset">Dataset</button>
  <button data-view="benchmark" id="benchmark-tab">Benchmark</button>
</header>
<main>
<section id="view-movies" class="active">
  <div id="controls">
    <input type="search" id="search" placeholder="Search titles and plots (all words)">
    <label>Genre <select id="genre"><option value="">any</option></select></label>
    <label>Split <select id="split"><option value="">any</option></select></label>
    <label id="missing-label">Missing <select id="missing"><option value="">any</option></select></label>
    <span id="count"></span>
  </div>
  <div id="grid"></div>
  <div id="pager"><button id="prev">previous</button><span id="page"></span><button id="next">next</button></div>
</section>
<section id="view-dataset"><div id="dataset"></div></section>
<section id="view-benchmark"><div id="benchmark"></div></section>
</main>
<aside id="detail"></aside>
<script type="application/json" id="report-data">__DATA__</script>
<script>
"use strict";
const DATA = JSON.parse(document.getElementById("report-data").textContent);
const PAGE_SIZE = DATA.page_size;
const MISSING_NAMES = ["complete", "text missing", "image missing"];
const M = DATA.movies;  // columns: ids, titles, years, splits, genres (bit masks), posters, missing
const movieCount = M.ids.length;
// The lowercased "title plot" of each movie, filled as the search files arrive (they are
// loaded once the page has opened, so that opening it reads only the columns above).
const searchText = new Array(movieCount);
let searchFilesLoaded = 0, searchRequested = false, searchFailed = false;
const SEARCH_MISSING = "The search files are missing: run mmimdb report again.";
let shown = Array.from({length: movieCount}, (_, i) => i);
let page = 0;
const details = {};
const waiting = {};

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}
function option(select, value, text) {
  const element = document.createElement("option");
  element.value = value; element.textContent = text; select.appendChild(element);
}
DATA.genres.forEach((g, i) => option(document.getElementById("genre"), i, g));
DATA.splits.forEach((s, i) => option(document.getElementById("split"), i, s));
if (DATA.missing_tables.length) {
  DATA.missing_tables.forEach((t, i) => MISSING_NAMES.forEach((name, code) => option(document.getElementById("missing"), i + ":" + code, t + ": " + name)));
} else {
  document.getElementById("missing-label").style.display = "none";
}

// A movie as the cards and the detail show it, made from the columns when drawn.
function movie(i) {
  const genres = [];
  DATA.genres.forEach((_, g) => { if ((M.genres[i] >> g) & 1) genres.push(g); });
  return {id: M.ids[i], title: M.titles[i], year: M.years[i], split: M.splits[i], genres: genres,
          poster: posterPath(i), missing: M.missing.map(codes => codes.charCodeAt(i) - 48)};
}
// As mmimdb.report.movies.thumbnail_name names the thumbnail; the first page's are in the page.
function posterPath(i) {
  if (i < DATA.first_posters.length) return DATA.first_posters[i];
  return M.posters[i] === null ? null : `${DATA.poster_folder}/${M.ids[i].replace(/^tt/, "")}-${M.posters[i]}.jpg`;
}

function chunkScript(folder, chunk, onerror) {
  const script = document.createElement("script");
  script.src = folder + "/" + String(chunk).padStart(4, "0") + ".js";
  script.onerror = onerror;
  document.head.appendChild(script);
}
function loadSearch() {
  if (searchRequested) return;
  searchRequested = true;
  for (let chunk = 0; chunk < DATA.search_files; chunk++)
    chunkScript("search", chunk, () => {
      searchFailed = true;
      if (document.getElementById("count").dataset.pending) applyFilters();
    });
}
window.mmimdbPlots = function (chunk, plots) {
  const start = chunk * DATA.search_chunk;
  plots.forEach((plot, k) => { searchText[start + k] = (M.titles[start + k] + " " + plot).toLowerCase(); });
  if (++searchFilesLoaded === DATA.search_files && document.getElementById("count").dataset.pending) applyFilters();
};
const searchReady = () => searchFilesLoaded === DATA.search_files;

function applyFilters() {
  const words = document.getElementById("search").value.toLowerCase().split(/\s+/).filter(Boolean);
  const genre = document.getElementById("genre").value;
  const split = document.getElementById("split").value;
  const missing = document.getElementById("missing").value;
  const status = document.getElementById("count");
  if (words.length && searchFailed) {
    delete status.dataset.pending;
    status.textContent = SEARCH_MISSING;
    return;
  }
  if (words.length && !searchReady()) {  // shown again when the last search file arrives
    status.dataset.pending = "1";
    status.textContent = "loading the plots to search…";
    loadSearch();
    return;
  }
  delete status.dataset.pending;
  const bit = genre === "" ? 0 : 1 << Number(genre), s = split === "" ? -1 : Number(split);
  const [table, code] = missing === "" ? [-1, -1] : missing.split(":").map(Number);
  const codes = table >= 0 ? M.missing[table] : "", codeChar = String(code);
  shown = [];
  for (let i = 0; i < movieCount; i++) {
    if (s >= 0 && M.splits[i] !== s) continue;
    if (bit && !(M.genres[i] & bit)) continue;
    if (table >= 0 && codes[i] !== codeChar) continue;
    if (words.length && !words.every(w => searchText[i].includes(w))) continue;
    shown.push(i);
  }
  page = 0;
  render();
}

function card(i) {
  const m = movie(i);
  const poster = m.poster ? `<img src="${escapeHtml(m.poster)}" alt="poster">` : `<div class="noposter"></div>`;
  const chips = m.genres.map(g => `<span class="chip">${escapeHtml(DATA.genres[g])}</span>`).join("");
  const split = DATA.splits[m.split];
  return `<div class="card" data-index="${i}">${poster}<div><div class="title">${escapeHtml(m.title)}</div>` +
         `<div class="meta">${m.year ?? ""} · <span class="split-${split}">${split}</span> · ${escapeHtml(m.id)}</div>` +
         `<div>${chips}</div></div></div>`;
}

function render() {
  const pages = Math.max(1, Math.ceil(shown.length / PAGE_SIZE));
  page = Math.min(page, pages - 1);
  const start = page * PAGE_SIZE;
  document.getElementById("grid").innerHTML = shown.slice(start, start + PAGE_SIZE).map(card).join("");
  document.getElementById("count").textContent = `${shown.length} of ${movieCount} movies`;
  document.getElementById("page").textContent = `page ${page + 1} of ${pages}`;
  document.getElementById("prev").disabled = page === 0;
  document.getElementById("next").disabled = page >= pages - 1;
}

function withDetails(i, then) {
  const chunk = Math.floor(i / DATA.details_chunk);
  if (details[chunk]) { then(details[chunk][i % DATA.details_chunk]); return; }
  (waiting[chunk] = waiting[chunk] || []).push(() => then(details[chunk][i % DATA.details_chunk]));
  if (waiting[chunk].length > 1) return;
  chunkScript("details", chunk, () => { document.getElementById("detail").innerHTML += "<p>The details file is missing: run mmimdb report again.</p>"; });
}
window.mmimdbDetails = function (chunk, values) {
  details[chunk] = values;
  (waiting[chunk] || []).forEach(f => f());
  delete waiting[chunk];
};

function table(rows) {
  return "<table>" + rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join("") + "</table>";
}

function predictionsTable(m, detail) {
  if (!detail.predictions) return "";
  const models = Object.keys(detail.predictions);
  let html = "<h3>Predictions (test set, first seed)</h3>";
  if (detail.gate !== undefined && detail.gate !== null)
    html += `<p>GMU gate: mean z = <span id="gate">${detail.gate.toFixed(3)}</span> (1: the poster, 0: the plot)</p>`;
  html += "<table><tr><th>genre</th><th>truth</th>" + models.map(n => `<th>${escapeHtml(n)}</th>`).join("") + "</tr>";
  DATA.genres.forEach((g, k) => {
    const truth = m.genres.includes(k);
    const cells = models.map(n => {
      const p = detail.predictions[n][k], predicted = p >= 0.5;
      const kind = predicted ? (truth ? "tp" : "fp") : (truth ? "fn" : "");
      const mark = kind === "tp" ? " ✓" : kind === "fp" ? " ✗ FP" : kind === "fn" ? " FN" : "";
      return `<td class="${kind}">${p.toFixed(3)}${mark}</td>`;
    }).join("");
    html += `<tr><td>${escapeHtml(g)}</td><td>${truth ? "yes" : ""}</td>${cells}</tr>`;
  });
  return html + "</table>";
}

function openMovie(i) {
  const m = movie(i);
  const panel = document.getElementById("detail");
  panel.className = "open";
  panel.innerHTML = `<span class="close" id="close">✕ close</span><h2>${escapeHtml(m.title)} (${m.year ?? "?"})</h2><p>loading…</p>`;
  document.getElementById("close").onclick = () => { panel.className = ""; };
  withDetails(i, detail => {
    const genres = m.genres.map(g => `<span class="chip">${escapeHtml(DATA.genres[g])}</span>`).join("") +
                   detail.other_genres.map(g => `<span class="chip">${escapeHtml(g)} (not a label)</span>`).join("");
    const missing = DATA.missing_tables.map((t, k) => [t, MISSING_NAMES[m.missing[k]] ?? "not in table"]);
    panel.innerHTML = `<span class="close" id="close">✕ close</span>` +
      (m.poster ? `<img src="${escapeHtml(m.poster)}" alt="poster">` : "") +
      `<h2>${escapeHtml(m.title)} (${m.year ?? "?"})</h2>` +
      `<p>${escapeHtml(m.id)} · ${DATA.splits[m.split]} split</p><p>${genres}</p>` +
      `<h3>Plots (${detail.plots.length})</h3>` + detail.plots.map(p => `<p class="plot">${escapeHtml(p)}</p>`).join("") +
      (detail.outline ? `<h3>Outline</h3><p class="plot">${escapeHtml(detail.outline)}</p>` : "") +
      "<h3>Fields</h3>" + table(Object.entries(detail.fields)) +
      (missing.length ? "<h3>Missing-modality tables</h3>" + table(missing) : "") +
      "<h3>Provenance</h3>" + table(Object.entries(detail.provenance)) + predictionsTable(m, detail);
    document.getElementById("close").onclick = () => { panel.className = ""; };
  });
}

function figures(list) {
  return list.map(f => `<figure><img src="${f.src}" alt="${escapeHtml(f.name)}"><figcaption>${escapeHtml(f.caption || f.name)}</figcaption></figure>`).join("");
}

function drawDataset() {
  const d = DATA.dataset;
  if (!d) { document.getElementById("dataset").innerHTML = "<p>Table 1 and the card's figures could not be drawn: see the warning of mmimdb report.</p>"; return; }
  const s = d.summary;
  document.getElementById("dataset").innerHTML =
    `<h2>The build: ${s.movies.total} movies (train ${s.movies.train}, dev ${s.movies.dev}, test ${s.movies.test})</h2>` +
    `<p>${s.labels_per_movie} genres per movie; median plot ${s.plot_words_median} words; median poster ` +
    `${s.poster_median_size[0]}×${s.poster_median_size[1]} px${s.years ? `; years ${s.years[0]}–${s.years[1]}` : ""}.</p>` +
    `<h2>Table 1: movies per genre and split</h2><div class="md" id="table1">${d.table1}</div>` +
    "<h2>Figures</h2>" + figures(d.figures);
}

function drawBenchmark() {
  const b = DATA.benchmark, target = document.getElementById("benchmark");
  if (!b) { target.innerHTML = "<p>No benchmark: run <code>mmimdb benchmark</code>, or pass <code>--results DIR</code>.</p>"; return; }
  let errors = "";
  for (const [model, rows] of Object.entries(b.errors)) {
    errors += `<h3>${escapeHtml(model)}</h3><table><tr><th>genre</th><th>support</th><th>TP</th><th>FP</th><th>FN</th><th>predicted instead, where missed</th></tr>` +
      rows.map(r => `<tr><td>${escapeHtml(r.genre)}</td><td>${r.support}</td><td>${r.tp}</td><td>${r.fp}</td><td>${r.fn}</td>` +
                    `<td>${r.instead.map(([g, n]) => `${escapeHtml(g)} (${n})`).join(", ")}</td></tr>`).join("") + "</table>";
  }
  target.innerHTML = `<p>From <code>${escapeHtml(b.folder)}</code>.</p>` +
    `<div class="md" id="table2">${b.table2}</div><div class="md" id="table3">${b.table3}</div>` +
    "<h2>Plots</h2>" + figures(b.plots) +
    `<h2>Per-genre errors (test set, first seed)</h2><div class="errors">${errors || "<p>No saved predictions.</p>"}</div>` +
    (b.qualitative ? `<div class="md" id="qualitative">${b.qualitative}</div>` : "");
}

// The dataset and benchmark views (their figures decode as images) are drawn on their first
// visit, so that opening the page draws only the first page of movies.
const drawn = {movies: true};
const draw = {dataset: drawDataset, benchmark: drawBenchmark};
document.querySelectorAll("header button").forEach(button => button.onclick = () => {
  const view = button.dataset.view;
  if (!drawn[view]) { draw[view](); drawn[view] = true; }
  document.querySelectorAll("header button").forEach(b => b.classList.toggle("active", b === button));
  document.querySelectorAll("section").forEach(s => s.classList.toggle("active", s.id === "view-" + button.dataset.view));
});
document.getElementById("search").addEventListener("input", applyFilters);
["genre", "split", "missing"].forEach(id => document.getElementById(id).addEventListener("change", applyFilters));
document.getElementById("prev").onclick = () => { page--; render(); };
document.getElementById("next").onclick = () => { page++; render(); };
document.getElementById("grid").addEventListener("click", event => {
  const target = event.target.closest(".card");
  if (target) openMovie(Number(target.dataset.index));
});
render();
// The plots the search reads load once the page and its first posters are in.
window.addEventListener("load", () => setTimeout(loadSearch, 0));
</script>
</body>
</html>
"""
