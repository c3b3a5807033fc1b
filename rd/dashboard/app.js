// The read-only dashboard of core-rd. Every value from the directory came from a device and
// is hostile: it only ever reaches the page as text (textContent, setAttribute of numbers),
// never as markup.
"use strict";

const PAGE_SIZE = 100;
let page = 0;
let lastTotal = 0;
// Why the filter of the link could not be used, until the user applies one of their own.
let linkError = "";

function $(id) { return document.getElementById(id); }

// "et=oic.d.sensor rt=temp*" or "et=oic.d.sensor&rt=temp*" -> URLSearchParams, so the box takes
// exactly the filters of rd-lookup/ep.
function filterParams(text) {
  const params = new URLSearchParams();
  for (const part of text.split(/[\s&]+/)) {
    if (!part) continue;
    const eq = part.indexOf("=");
    if (eq < 0) params.append(part, "");
    else params.append(part.slice(0, eq), part.slice(eq + 1));
  }
  return params;
}

function text(tag, value, cls) {
  const el = document.createElement(tag);
  el.textContent = value;
  if (cls) el.className = cls;
  return el;
}

function attr(attrs, name) {
  const values = attrs.filter((a) => a[0] === name).map((a) => a[1] === null ? "" : a[1]);
  return values.join(" ");
}

function mib(bytes) {
  return (bytes / 1048576).toFixed(bytes < 10485760 ? 1 : 0) + " MiB";
}

function duration(s) {
  if (s <= 0) return "expired";
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600);
  const m = Math.floor(s % 3600 / 60), sec = s % 60;
  if (d) return d + "d " + h + "h";
  if (h) return h + "h " + m + "m";
  if (m) return m + "m " + sec + "s";
  return sec + "s";
}

function row(ep) {
  const tr = document.createElement("tr");
  tr.className = "endpoint";
  tr.appendChild(text("td", ep.ep, "ep"));
  tr.appendChild(text("td", ep.d, "d"));
  tr.appendChild(text("td", attr(ep.attrs, "et"), "et"));
  tr.appendChild(text("td", duration(ep.expires_in), "lt"));
  tr.appendChild(text("td", ep.base, "base"));
  const res = document.createElement("td");
  res.className = "res";
  for (const l of ep.links) {
    const rt = attr(l.attrs, "rt");
    res.appendChild(text("div", l.href + (rt ? "  rt=" + rt : "")));
  }
  tr.appendChild(res);
  return tr;
}

async function loadEndpoints() {
  const params = filterParams($("filter").value);
  $("filter-error").textContent = linkError;
  // The page does its own paging: a count or page typed into the box would fight it.
  if (params.has("count") || params.has("page")) {
    $("filter-error").textContent = "count and page are set by the pager";
    params.delete("count");
    params.delete("page");
  }
  $("applied").textContent = params.toString() || "all endpoints";
  params.set("count", String(PAGE_SIZE));
  params.set("page", String(page));
  const r = await fetch("api/endpoints?" + params.toString());
  const body = await r.json();
  const rows = $("rows");
  if (!r.ok) {
    $("filter-error").textContent = body.error || ("HTTP " + r.status);
    rows.replaceChildren();
    $("n-match").textContent = "0";
    return;
  }
  rows.replaceChildren(...body.endpoints.map(row));
  lastTotal = body.total;
  $("n-match").textContent = String(body.total);
  const first = body.total ? page * PAGE_SIZE + 1 : 0;
  const last = page * PAGE_SIZE + body.endpoints.length;
  $("page-info").textContent = first + "–" + last + " of " + body.total;
  $("prev").disabled = page === 0;
  $("next").disabled = last >= body.total;
}

function drawChart(history) {
  const svg = $("chart");
  svg.replaceChildren();
  if (history.length === 0) return;
  const t0 = history[0][0], t1 = history[history.length - 1][0];
  const max = Math.max(1, ...history.map((p) => p[1]));
  const pts = history.map((p) => {
    const x = t1 > t0 ? (p[0] - t0) / (t1 - t0) * 600 : 600;
    const y = 115 - p[1] / max * 110;
    return x.toFixed(1) + "," + y.toFixed(1);
  });
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", (history.length === 1 ? "0," + pts[0].split(",")[1] + " " : "") +
                    pts.join(" "));
  svg.appendChild(line);
  $("chart-range").textContent = "0 to " + max + " registrations, " +
      new Date(t0 * 1000).toISOString() + " to " + new Date(t1 * 1000).toISOString();
}

async function loadStats() {
  const r = await fetch("api/stats");
  const s = await r.json();
  $("n-regs").textContent = String(s.registrations);
  $("n-res").textContent = s.resources < 0 ? "n/a" : String(s.resources);
  $("n-store").textContent = s.store_map_bytes ?
      mib(s.store_used_bytes) + " of " + mib(s.store_map_bytes) + " (" +
      (100 * s.store_used_bytes / s.store_map_bytes).toFixed(2) + "%)" : "–";
  drawChart(s.history);
}

async function refresh() {
  try {
    await Promise.all([loadEndpoints(), loadStats()]);
    $("status").textContent = "updated " + new Date().toLocaleTimeString();
    $("status").className = "";
    document.body.dataset.loaded = "1";
  } catch (e) {
    $("status").textContent = "cannot reach the server: " + e;
    $("status").className = "error";
  }
}

function applyFilter(ev) {
  if (ev) ev.preventDefault();
  page = 0;
  linkError = "";
  // The filter lives in the fragment, so a filtered view is a link one can share or reload.
  history.replaceState(null, "", "#filter=" + encodeURIComponent($("filter").value));
  refresh();
}

document.addEventListener("DOMContentLoaded", () => {
  const m = /^#filter=(.*)$/.exec(location.hash);
  // A hand-edited or truncated link may not decode (a lone "%"): decodeURIComponent throws, and
  // the page must still load, unfiltered, and say why.
  if (m) {
    try {
      $("filter").value = decodeURIComponent(m[1]);
    } catch (e) {
      linkError = "the link's filter is not valid percent-encoding: showing all endpoints";
    }
  }
  $("filter-form").addEventListener("submit", applyFilter);
  $("prev").addEventListener("click", () => { if (page > 0) { page--; refresh(); } });
  $("next").addEventListener("click", () => {
    if ((page + 1) * PAGE_SIZE < lastTotal) { page++; refresh(); }
  });
  refresh();
  setInterval(refresh, 5000);
});
