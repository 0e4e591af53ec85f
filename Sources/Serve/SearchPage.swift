// The search page served at `/`: one self-contained HTML document (styles and script inline, no CDN).

/// The page: type a caption or drop an image; results appear as a thumbnail grid with similarity and caption, the
/// base ranking and the ELIP re-ranking side by side when the server has a mapper.
public enum SearchPage {
    public static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>clipcore search</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 0; background: #f6f6f4; color: #222; }
  header { padding: 14px 20px; background: #24292f; color: #fff; display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0 12px 0 0; }
  input[type=text], input[type=password], select { font-size: 15px; padding: 6px 8px; border-radius: 4px; border: 1px solid #999; }
  #q { width: 340px; }
  button { font-size: 15px; padding: 6px 14px; border-radius: 4px; border: 0; background: #2f81f7; color: #fff; cursor: pointer; }
  #drop { border: 2px dashed #8b949e; border-radius: 6px; padding: 6px 12px; color: #ccc; font-size: 13px; }
  #drop.over { border-color: #2f81f7; color: #fff; }
  #status { padding: 8px 20px; font-size: 14px; color: #555; min-height: 18px; }
  #columns { display: flex; gap: 20px; padding: 0 20px 20px; align-items: flex-start; }
  .column { flex: 1; min-width: 0; }
  .column h2 { font-size: 16px; margin: 6px 0 10px; }
  .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(140px, 1fr)); gap: 10px; }
  .result { background: #fff; border-radius: 6px; box-shadow: 0 1px 3px rgba(0,0,0,.15); overflow: hidden; font-size: 12px; }
  .result img { width: 100%; aspect-ratio: 1; object-fit: cover; display: block; background: #ddd; image-rendering: pixelated; }
  .result .sim { font-weight: 600; padding: 4px 6px 0; }
  .result .caption { padding: 2px 6px 6px; color: #444; overflow-wrap: anywhere; }
  .error { color: #b42318; }
</style>
</head>
<body>
<header>
  <h1>clipcore search</h1>
  <form id="form"><input id="q" type="text" placeholder="Type a caption…" autocomplete="off"> <button id="go" type="submit">Search</button></form>
  <span id="drop">or drop an image here</span>
  <select id="index" title="index"></select>
  <select id="k" title="results"><option>12</option><option selected>24</option><option>48</option></select>
  <input id="key" type="password" placeholder="API key (if any)" size="14">
</header>
<div id="status"></div>
<div id="columns">
  <div class="column"><h2 id="base-title">Results</h2><div id="base" class="grid"></div></div>
  <div class="column" id="elip-column" hidden><h2>ELIP re-ranked</h2><div id="elip" class="grid"></div></div>
</div>
<script>
"use strict";
let info = { indices: [], elip: false };
const $ = (id) => document.getElementById(id);
function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("key").value || localStorage.getItem("clipcore-key") || "";
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}
async function loadInfo() {
  try {
    const r = await fetch("info", { headers: headers() });
    if (!r.ok) { $("status").textContent = "info: HTTP " + r.status + " (an API key may be needed)"; return; }
    info = await r.json();
    $("index").innerHTML = "";
    for (const name of info.indices) { const o = document.createElement("option"); o.textContent = name; $("index").appendChild(o); }
    $("elip-column").hidden = !info.elip;
    $("base-title").textContent = info.elip ? "Base" : "Results";
  } catch (e) { $("status").textContent = "cannot reach the server: " + e; }
}
async function knn(body) {
  const r = await fetch("knn-service", { method: "POST", headers: headers(), body: JSON.stringify(body) });
  const data = await r.json();
  if (!r.ok) throw new Error(data.error || ("HTTP " + r.status));
  return data;
}
async function imageSource(url) {
  if (!url) return "";
  if (!headers()["Authorization"]) return url;
  const r = await fetch(url, { headers: headers() });
  return r.ok ? URL.createObjectURL(await r.blob()) : "";
}
async function render(grid, results) {
  grid.innerHTML = "";
  for (const item of results) {
    const div = document.createElement("div");
    div.className = "result";
    const img = document.createElement("img");
    img.alt = item.caption || "";
    img.src = await imageSource(item.url);
    const sim = document.createElement("div");
    sim.className = "sim";
    sim.textContent = item.similarity.toFixed(3) + (item.base_rank ? "  (base #" + item.base_rank + ")" : "");
    const cap = document.createElement("div");
    cap.className = "caption";
    cap.textContent = item.caption || "";
    div.append(img, sim, cap);
    grid.appendChild(div);
  }
}
async function search(query) {
  const k = parseInt($("k").value, 10);
  const body = Object.assign({ modality: "image", num_images: k, indice_name: $("index").value || undefined }, query);
  $("status").textContent = "searching…";
  const t0 = performance.now();
  try {
    const base = await knn(body);
    await render($("base"), base);
    if (info.elip && query.text) {
      const reranked = await knn(Object.assign({ rerank_k: Math.min(k, info.max_rerank_k || k) }, body));
      await render($("elip"), reranked);
    } else {
      $("elip").innerHTML = "";
      if (info.elip) { const p = document.createElement("p"); p.textContent = "ELIP re-ranks text queries."; $("elip").appendChild(p); }
    }
    $("status").textContent = base.length + " results in " + Math.round(performance.now() - t0) + " ms";
    document.body.dataset.state = "done";
  } catch (e) {
    $("status").innerHTML = "";
    const span = document.createElement("span"); span.className = "error"; span.textContent = e.message; $("status").appendChild(span);
    document.body.dataset.state = "error";
  }
}
$("form").addEventListener("submit", (ev) => { ev.preventDefault(); const t = $("q").value.trim(); if (t) search({ text: t }); });
$("key").addEventListener("change", () => { localStorage.setItem("clipcore-key", $("key").value); loadInfo(); });
const drop = $("drop");
drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (ev) => {
  ev.preventDefault(); drop.classList.remove("over");
  const file = ev.dataTransfer.files[0]; if (!file) return;
  const reader = new FileReader();
  reader.onload = () => search({ image: reader.result });
  reader.readAsDataURL(file);
});
loadInfo();
</script>
</body>
</html>
"""#
}
