// The read-only dashboard of core-rd. Every value from the directory came from a device and
// is hostile: it only ever reaches the page as text (textContent, setAttribute of numbers and
// of links the page builds itself), never as markup.
"use strict";

const PAGE_SIZE = 100;
const TOKEN_KEY = "core-rd-token";
// Reconnections of the change feed in a row before the page says it gave up.
const FEED_RETRIES = 10;
let page = 0;
let lastTotal = 0;
// Why the filter of the link could not be used, until the user applies one of their own.
let linkError = "";
// The registration the endpoint page shows ("/rd/..."), or "" for the list.
let shown = "";
let shownAt = null; // its last answer, for the countdown
let lastEventId = null;
let reloadTimer = null;

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

// The bearer token (http_token_file on the server): kept in this tab's sessionStorage only.
function token() { return sessionStorage.getItem(TOKEN_KEY); }

function authHeaders(extra) {
  const h = Object.assign({}, extra || {});
  const t = token();
  if (t) h.Authorization = "Bearer " + t;
  return h;
}

// GET an API path as JSON; a 401 asks for a token once and tries again.
async function api(path) {
  let r = await fetch(path, { headers: authHeaders() });
  if (r.status === 401) {
    const t = window.prompt("This core-rd needs a bearer token for its API:");
    if (t) {
      sessionStorage.setItem(TOKEN_KEY, t.trim());
      r = await fetch(path, { headers: authHeaders() });
    }
  }
  return { ok: r.ok, status: r.status, body: await r.json() };
}

function row(ep) {
  const tr = document.createElement("tr");
  tr.className = "endpoint";
  const name = text("td", "", "ep");
  const a = text("a", ep.ep);
  a.setAttribute("href", "#ep=" + encodeURIComponent(ep.href));
  name.appendChild(a);
  tr.appendChild(name);
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
  const r = await api("api/endpoints?" + params.toString());
  const rows = $("rows");
  if (!r.ok) {
    $("filter-error").textContent = r.body.error || ("HTTP " + r.status);
    rows.replaceChildren();
    $("n-match").textContent = "0";
    return;
  }
  rows.replaceChildren(...r.body.endpoints.map(row));
  lastTotal = r.body.total;
  $("n-match").textContent = String(r.body.total);
  const first = r.body.total ? page * PAGE_SIZE + 1 : 0;
  const last = page * PAGE_SIZE + r.body.endpoints.length;
  $("page-info").textContent = first + "–" + last + " of " + r.body.total;
  $("prev").disabled = page === 0;
  $("next").disabled = last >= r.body.total;
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
  const r = await api("api/stats");
  if (!r.ok) return;
  const s = r.body;
  $("n-regs").textContent = String(s.registrations);
  $("n-res").textContent = s.resources < 0 ? "n/a" : String(s.resources);
  $("n-store").textContent = s.store_map_bytes ?
      mib(s.store_used_bytes) + " of " + mib(s.store_map_bytes) + " (" +
      (100 * s.store_used_bytes / s.store_map_bytes).toFixed(2) + "%)" : "–";
  drawChart(s.history);
}

// The endpoint page: attributes, lifetime left, links and the last change of one registration.
function showEndpoint(ep) {
  $("ep-name").textContent = ep.ep;
  $("ep-location").textContent = ep.href;
  $("ep-sector").textContent = ep.d || "–";
  $("ep-base").textContent = ep.base;
  $("ep-lt").textContent = String(ep.lt) + " s";
  $("ep-changed").textContent = new Date(ep.refreshed_at * 1000).toISOString();
  $("ep-attrs").replaceChildren(...ep.attrs.map((a) => {
    const tr = document.createElement("tr");
    tr.appendChild(text("td", a[0]));
    tr.appendChild(text("td", a[1] === null ? "" : a[1]));
    return tr;
  }));
  $("ep-links").replaceChildren(...ep.links.map((l) => {
    const tr = document.createElement("tr");
    tr.appendChild(text("td", l.href, "href"));
    tr.appendChild(text("td", l.attrs.map((a) => a[1] === null ? a[0] : a[0] + "=" + a[1])
                                     .join("; "), "attrs"));
    return tr;
  }));
  shownAt = { expires_at: ep.expires_at, now: ep.expires_at - ep.expires_in, since: Date.now() };
  tick();
}

// Lifetime left, counted down here between answers.
function tick() {
  if (!shownAt) return;
  const elapsed = Math.floor((Date.now() - shownAt.since) / 1000);
  $("ep-left").textContent = duration(shownAt.expires_at - shownAt.now - elapsed);
}

async function loadEndpoint() {
  const r = await api("api/endpoints" + shown);
  $("ep-error").textContent = r.ok ? "" : (r.body.error || ("HTTP " + r.status));
  $("ep-detail").hidden = !r.ok;
  if (r.ok) showEndpoint(r.body);
  else shownAt = null;
}

async function refresh() {
  try {
    await Promise.all([shown ? loadEndpoint() : loadEndpoints(), loadStats()]);
    $("status").textContent = "updated " + new Date().toLocaleTimeString();
    $("status").className = "";
    document.body.dataset.loaded = "1";
  } catch (e) {
    $("status").textContent = "cannot reach the server: " + e;
    $("status").className = "error";
  }
}

// A burst of changes reloads what is shown once, not once per change.
function changed() {
  if (reloadTimer) return;
  reloadTimer = setTimeout(() => { reloadTimer = null; refresh(); }, 200);
}

// One event of the feed: the list and counts follow; the endpoint page says what happened.
function onEvent(id, kind, data) {
  if (id !== null) lastEventId = id;
  document.body.dataset.events = String(Number(document.body.dataset.events || 0) + 1);
  let d = {};
  try { d = JSON.parse(data); } catch (e) { return; }
  $("last-event").textContent = kind + (d.ep ? " " + d.ep : "") +
      (d.location ? " " + d.location : "") + " at " + new Date().toLocaleTimeString();
  if (shown && d.location === shown && (kind === "removed" || kind === "expired")) {
    $("ep-error").textContent = "this registration was " + kind;
  }
  changed();
}

// Follow GET /api/events. fetch() rather than EventSource, because EventSource cannot send the
// Authorization header a token-protected server needs; the SSE lines are parsed here. After a
// disconnect it resumes with Last-Event-ID, a bounded number of times in a row.
async function follow(retries) {
  const headers = authHeaders({ Accept: "text/event-stream" });
  if (lastEventId !== null) headers["Last-Event-ID"] = lastEventId;
  try {
    const r = await fetch("api/events", { headers });
    if (!r.ok) throw new Error("HTTP " + r.status);
    $("live").textContent = "live";
    retries = 0;
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let buf = "", id = null, kind = "message", data = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, "");
        buf = buf.slice(nl + 1);
        if (line === "") {
          if (data) onEvent(id, kind, data);
          id = null; kind = "message"; data = "";
        } else if (line.startsWith("id: ")) id = line.slice(4);
        else if (line.startsWith("event: ")) kind = line.slice(7);
        else if (line.startsWith("data: ")) data = line.slice(6);
      }
    }
  } catch (e) {
    $("live").textContent = "feed: " + e.message;
  }
  if (retries >= FEED_RETRIES) {
    $("live").textContent = "not live: the feed is unreachable (reload the page)";
    return;
  }
  $("live").textContent = "reconnecting…";
  setTimeout(() => follow(retries + 1), 1000 * (retries + 1));
}

// The fragment: filter=..., ep=/rd/... (the endpoint page) and token=... (taken into
// sessionStorage and removed from the address bar at once).
function readFragment() {
  const out = {};
  for (const part of location.hash.replace(/^#/, "").split("&")) {
    const eq = part.indexOf("=");
    if (eq > 0) out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

function decoded(value) {
  // A hand-edited or truncated link may not decode (a lone "%"): decodeURIComponent throws.
  try { return decodeURIComponent(value); } catch (e) { return null; }
}

function route() {
  const f = readFragment();
  if (f.token !== undefined) {
    const t = decoded(f.token);
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
    delete f.token;
    const rest = Object.keys(f).map((k) => k + "=" + f[k]).join("&");
    history.replaceState(null, "", rest ? "#" + rest : location.pathname);
  }
  shown = f.ep !== undefined ? (decoded(f.ep) || "") : "";
  if (!/^\/rd\/[0-9a-z]{1,16}$/.test(shown)) shown = "";
  $("list").hidden = !!shown;
  $("endpoint").hidden = !shown;
  shownAt = null;
  if (f.filter !== undefined) {
    const v = decoded(f.filter);
    if (v === null) {
      linkError = "the link's filter is not valid percent-encoding: showing all endpoints";
    } else {
      $("filter").value = v;
    }
  }
  refresh();
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
  $("filter-form").addEventListener("submit", applyFilter);
  $("prev").addEventListener("click", () => { if (page > 0) { page--; refresh(); } });
  $("next").addEventListener("click", () => {
    if ((page + 1) * PAGE_SIZE < lastTotal) { page++; refresh(); }
  });
  window.addEventListener("hashchange", route);
  route();
  follow(0);
  // The chart gains a sample every 10 s; the countdown ticks every second.
  setInterval(loadStats, 10000);
  setInterval(tick, 1000);
});
