// Sluice dashboard: a small single-page app over the gateway's JSON (GET /api/jobs, GET /api/jobs/<id>) and,
// for live query results, its SQL Gateway REST API (/v1/sessions/...). No framework, no build step.
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const POLL_MS = 1000;
let timer = null; // the current page's poll
let query = null; // the query page's running statement

// el builds an element: el("td", {class: "num"}, "12"). Text is always set as text (never parsed as HTML).
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  return fill(e, attrs, kids);
}

function svg(tag, attrs, ...kids) {
  return fill(document.createElementNS(SVGNS, tag), attrs, kids);
}

function fill(e, attrs, kids) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined) e.setAttribute(k, String(v));
  }
  for (const k of kids.flat()) {
    if (k === null || k === undefined) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

async function getJSON(url, opts) {
  const resp = await fetch(url, Object.assign({ headers: { "Accept": "application/json" } }, opts));
  let body = null;
  try { body = await resp.json(); } catch (e) { /* not JSON */ }
  if (!resp.ok) {
    const msg = body && body.errors ? body.errors.join("\n") : resp.status + " " + resp.statusText;
    const err = new Error(msg);
    err.status = resp.status;
    throw err;
  }
  return body;
}

function postJSON(url, body) {
  return getJSON(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}) });
}

function fmtInt(n) { return n === null || n === undefined ? "" : Number(n).toLocaleString("en-US"); }
function fmtRate(r) { return (r || 0).toFixed(1); }
function fmtTime(t) { return t ? new Date(t).toISOString().replace("T", " ").replace("Z", "") : ""; }
function fmtWM(ms) { return ms === null || ms === undefined ? "none" : fmtTime(ms); }
function fmtBytes(b) {
  if (b < 1024) return b + " B";
  if (b < 1 << 20) return (b / 1024).toFixed(1) + " KiB";
  return (b / (1 << 20)).toFixed(1) + " MiB";
}
function fmtCkpt(c) { return c ? "#" + c.id + " at " + fmtTime(c.time).slice(11) : ""; }

function setStatus(text, bad) {
  const s = document.getElementById("status");
  s.textContent = text;
  s.className = bad ? "error" : "muted";
}

// show replaces the page's content, keeping the scroll positions of the scrollable parts that have an id
// (the plan graph) across the updates of a poll.
function show(...nodes) {
  const main = document.getElementById("main");
  const scroll = new Map();
  for (const e of main.querySelectorAll("[data-keep-scroll]")) scroll.set(e.id, [e.scrollLeft, e.scrollTop]);
  main.replaceChildren(...nodes);
  for (const [id, [x, y]] of scroll) {
    const e = document.getElementById(id);
    if (e) { e.scrollLeft = x; e.scrollTop = y; }
  }
}

function statusCell(st) { return el("span", { class: "status status-" + st }, st); }

// ---- job list ----

async function jobsPage() {
  const data = await getJSON("/api/jobs");
  if (data.jobs.length === 0) {
    return { nodes: [el("h1", {}, "Jobs"), el("p", { id: "no-jobs", class: "muted" },
      "No jobs yet. Submit an INSERT INTO … SELECT in a session (sql-client, or the Query page for queries).")] };
  }
  const head = el("tr", {}, ["job id", "name", "status", "start time", "rows in", "rows out", "records in/s",
    "records out/s", "lag", "watermark", "last checkpoint"].map((h) => el("th", {}, h)));
  const rows = data.jobs.map((j) => el("tr", { class: "job", "data-job": j.id },
    el("td", {}, el("a", { href: "#/jobs/" + encodeURIComponent(j.id) }, j.id)),
    el("td", {}, j.name),
    el("td", {}, statusCell(j.status)),
    el("td", {}, fmtTime(j.startTime)),
    el("td", { class: "num rows-in" }, fmtInt(j.rowsIn)),
    el("td", { class: "num rows-out" }, fmtInt(j.rowsOut)),
    el("td", { class: "num" }, fmtRate(j.recordsInPerSecond)),
    el("td", { class: "num" }, fmtRate(j.recordsOutPerSecond)),
    el("td", { class: "num" }, j.lag === null ? "" : fmtInt(j.lag)),
    el("td", {}, j.watermark === null ? "" : fmtTime(j.watermark)),
    el("td", {}, fmtCkpt(j.lastCheckpoint))));
  return { nodes: [el("h1", {}, "Jobs"), el("table", { id: "jobs" }, el("thead", {}, head), el("tbody", {}, rows))] };
}

// ---- job page ----

async function jobPage(id) {
  let j;
  try {
    j = await getJSON("/api/jobs/" + encodeURIComponent(id));
  } catch (e) {
    if (e.status === 404) {
      return { nodes: [el("h1", {}, "Job " + id), el("p", { id: "job-error", class: "error" }, e.message), el("a", { href: "#/" }, "All jobs")], stop: true };
    }
    throw e;
  }
  const parts = [el("h1", {}, "Job ", el("span", { id: "job-name" }, j.name), " ", statusCell(j.status)),
    el("div", { class: "summary" },
      kv("job id", j.id), kv("start time", fmtTime(j.startTime)), kv("rows in", fmtInt(j.rowsIn)),
      kv("rows out", fmtInt(j.rowsOut)), kv("records in/s", fmtRate(j.recordsInPerSecond)),
      kv("records out/s", fmtRate(j.recordsOutPerSecond)), kv("lag", j.lag === null ? "n/a" : fmtInt(j.lag)),
      kv("watermark", fmtWM(j.watermark)), kv("restarts", j.restarts))];
  if (j.failure) {
    parts.push(el("section", { id: "failure", class: "failure" },
      el("div", {}, "Root cause: ", el("span", { class: "root", id: "root-cause" }, j.failure.rootCause)),
      j.failure.origin ? el("div", {}, "in the job of the statement at ", el("code", { id: "failure-origin" }, j.failure.origin)) : null,
      el("div", { class: "muted" }, "Failure: " + j.failure.error)));
  }
  parts.push(el("h2", {}, "Plan"), el("div", { id: "graph", class: "graph-wrap", "data-keep-scroll": "" }, planGraph(j.operators)));
  parts.push(el("h2", {}, "Watermarks"), watermarkTable(j.operators));
  parts.push(el("h2", {}, "Checkpoints"), checkpointTable(j));
  if (j.statement) {
    parts.push(el("h2", {}, "Statement" + (j.origin ? " at " + j.origin : "")), el("pre", { id: "statement" }, j.statement.trim()));
  }
  return { nodes: parts, stop: j.status !== "RUNNING" };
}

function kv(k, v) { return el("div", {}, el("span", {}, k), String(v)); }

function watermarkTable(ops) {
  const head = el("tr", {}, ["operator", "current input watermark", "output watermark"].map((h) => el("th", {}, h)));
  return el("table", { id: "watermarks" }, el("thead", {}, head), el("tbody", {}, ops.map((o) =>
    el("tr", {}, el("td", {}, o.name), el("td", {}, fmtWM(o.inputWatermark)), el("td", {}, fmtWM(o.outputWatermark))))));
}

function checkpointTable(j) {
  const note = el("p", { class: "muted" }, j.completedCheckpoints + " completed, " + j.failedCheckpoints +
    " failed" + (j.checkpoints.length ? "; the latest " + j.checkpoints.length + ":" : "."));
  if (!j.checkpoints.length) return note;
  const head = el("tr", {}, ["id", "completed at", "duration", "size", "path"].map((h) => el("th", {}, h)));
  const rows = j.checkpoints.slice().reverse().map((c) => el("tr", { class: "checkpoint" },
    el("td", { class: "num" }, c.id), el("td", {}, fmtTime(c.time)), el("td", { class: "num" }, c.durationMs.toFixed(1) + " ms"),
    el("td", { class: "num" }, fmtBytes(c.bytes)), el("td", {}, c.path || "(in memory)")));
  return el("div", {}, note, el("table", { id: "checkpoints" }, el("thead", {}, head), el("tbody", {}, rows)));
}

// planGraph draws the operators as boxes, layered by depth from the sources (left to right), and the edges
// between them labelled with the rate of rows flowing on them.
function planGraph(ops) {
  const W = 230, H = 78, GX = 80, GY = 24, PAD = 16;
  const byId = new Map(ops.map((o) => [o.id, o]));
  const depth = new Map();
  const depthOf = (o) => {
    if (depth.has(o.id)) return depth.get(o.id);
    depth.set(o.id, 0); // guards against a cycle
    let d = 0;
    for (const i of o.inputs) if (byId.has(i)) d = Math.max(d, depthOf(byId.get(i)) + 1);
    depth.set(o.id, d);
    return d;
  };
  const layers = [];
  for (const o of ops) {
    const d = depthOf(o);
    (layers[d] = layers[d] || []).push(o);
  }
  const pos = new Map();
  let maxRows = 1;
  layers.forEach((layer, d) => {
    maxRows = Math.max(maxRows, layer.length);
    layer.forEach((o, i) => pos.set(o.id, { x: PAD + d * (W + GX), y: PAD + i * (H + GY) }));
  });
  const width = PAD * 2 + layers.length * W + Math.max(layers.length - 1, 0) * GX;
  const height = PAD * 2 + maxRows * H + (maxRows - 1) * GY;
  const root = svg("svg", { id: "plan", width: width, height: height, viewBox: "0 0 " + width + " " + height });
  root.append(svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" },
    svg("path", { class: "arrow", d: "M0,0 L10,5 L0,10 z" }))));
  const consumers = new Set();
  for (const o of ops) for (const i of o.inputs) consumers.add(i);
  for (const o of ops) {
    for (const i of o.inputs) {
      const from = byId.get(i);
      if (!from) continue;
      const a = pos.get(i), b = pos.get(o.id);
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
      root.append(svg("path", { class: "edge", "data-from": i, "data-to": o.id, "marker-end": "url(#arrow)",
        d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}` }));
      root.append(svg("text", { class: "edge-rate", "data-from": i, "data-to": o.id, x: mx, y: (y1 + y2) / 2 - 5, "text-anchor": "middle" },
        fmtRate(from.recordsOutPerSecond) + "/s"));
    }
  }
  for (const o of ops) {
    const p = pos.get(o.id);
    const kind = o.inputs.length === 0 ? "source" : consumers.has(o.id) ? "" : "sink";
    root.append(svg("g", { class: ("op " + kind).trim(), "data-op": o.id, "data-op-name": o.name, "data-records-in": o.recordsIn,
      "data-records-out": o.recordsOut, transform: `translate(${p.x},${p.y})` },
      svg("title", {}, o.description),
      svg("rect", { width: W, height: H, rx: 6 }),
      svg("text", { class: "op-name", x: 10, y: 18 }, o.name),
      svg("text", { class: "op-mode", x: W - 10, y: 18, "text-anchor": "end" }, "[" + o.changelogMode + "]"),
      svg("text", { class: "op-counters", x: 10, y: 38 }, "in " + fmtInt(o.recordsIn) + "  out " + fmtInt(o.recordsOut)),
      svg("text", { class: "op-rates", x: 10, y: 55 }, fmtRate(o.recordsInPerSecond) + "/s in  " + fmtRate(o.recordsOutPerSecond) + "/s out"),
      svg("text", { class: "op-wm", x: 10, y: 71 }, o.lag !== null ? "lag " + fmtInt(o.lag) + " (max " + fmtInt(o.lagMax) + ")" :
        "wm " + (o.inputWatermark === null ? "none" : fmtTime(o.inputWatermark).slice(11)))));
  }
  return root;
}

// ---- query page ----

function queryPage(params) {
  const text = el("textarea", { id: "sql", spellcheck: "false" });
  text.value = query ? query.sql : "SELECT 1 AS x";
  const run = el("button", { id: "run" }, "Run");
  const cancel = el("button", { id: "cancel" }, "Cancel");
  const out = el("div", { id: "result" });
  run.addEventListener("click", () => runQuery(text.value));
  cancel.addEventListener("click", () => cancelQuery());
  show(el("h1", {}, "Query"),
    el("p", { class: "muted" }, "Runs in a session of its own on this gateway (not the shell's). The table is the " +
      "live, materialized result: updates and retractions are applied as they arrive. To watch the result of an " +
      "operation submitted elsewhere, open #/query?session=<handle>&operation=<handle> (this page then fetches its pages, " +
      "so its other client gets none)."),
    text, el("div", {}, run, cancel), out);
  const session = params.get("session"), op = params.get("operation");
  if (session && op && !(query && query.op === op)) {
    text.value = "";
    watchQuery({ sql: "", session: session, op: op, attached: true });
  } else if (query) {
    renderResult();
  }
}

async function runQuery(sql) {
  await cancelQuery();
  const q = { sql: sql, cols: [], rows: [], changes: 0, state: "STARTING", error: "" };
  query = q;
  renderResult();
  try {
    const s = await postJSON("/v1/sessions", { sessionName: "dashboard" });
    q.session = s.sessionHandle;
    const op = await postJSON("/v1/sessions/" + q.session + "/statements", { statement: sql });
    q.op = op.operationHandle;
  } catch (e) {
    Object.assign(q, { state: "ERROR", error: e.message });
    renderResult();
    closeSession(q);
    return;
  }
  await watchQuery(q);
}

// watchQuery follows an operation's result pages (nextResultUri) until EOS, an error, or another query.
async function watchQuery(q) {
  await cancelQuery();
  Object.assign(q, { cols: [], rows: [], changes: 0, state: "RUNNING", error: "" });
  query = q;
  renderResult();
  let uri = "/v1/sessions/" + encodeURIComponent(q.session) + "/operations/" + encodeURIComponent(q.op) + "/result/0?rowFormat=JSON";
  try {
    while (uri && query === q && q.state === "RUNNING") {
      const page = await getJSON(uri);
      if (page.results && page.results.columns) q.cols = page.results.columns.map((c) => c.name);
      for (const r of (page.results && page.results.data) || []) apply(q, r);
      if (page.resultType === "EOS") q.state = "FINISHED";
      uri = page.nextResultUri;
      renderResult();
    }
  } catch (e) {
    q.state = "ERROR";
    q.error = e.message;
  }
  if (query === q) renderResult();
  closeSession(q);
}

// apply folds one changelog row into the materialized result.
function apply(q, r) {
  q.changes++;
  const key = JSON.stringify(r.fields);
  if (r.kind === "UPDATE_BEFORE" || r.kind === "DELETE") {
    const i = q.rows.findIndex((x) => JSON.stringify(x) === key);
    if (i >= 0) q.rows.splice(i, 1);
  } else {
    q.rows.push(r.fields);
  }
}

async function cancelQuery() {
  const q = query;
  if (!q || q.state !== "RUNNING") return;
  q.state = "CANCELED";
  if (q.session && q.op) {
    try { await postJSON("/v1/sessions/" + q.session + "/operations/" + q.op + "/cancel"); } catch (e) { /* gone */ }
  }
  closeSession(q);
}

// closeSession closes the page's own session (not the one of an operation it only watches).
function closeSession(q) {
  if (q.session && !q.closed && !q.attached) {
    q.closed = true;
    fetch("/v1/sessions/" + q.session, { method: "DELETE" }).catch(() => {});
  }
}

// renderResult shows the current query's result in the query page, when it is shown.
function renderResult() {
  const q = query, out = document.getElementById("result");
  if (!q || !out) return;
  const parts = [el("p", { id: "query-state", "data-operation": q.op }, statusCell(q.state), "  " + q.rows.length + " rows, " + q.changes + " changes")];
  if (q.attached) parts.push(el("p", { class: "muted" }, "Watching operation " + q.op + " (submitted elsewhere)."));
  if (q.error) parts.push(el("pre", { id: "query-error", class: "error" }, q.error));
  if (q.cols.length) {
    const shown = q.rows.slice(0, 500);
    parts.push(el("table", { id: "query-result" }, el("thead", {}, el("tr", {}, q.cols.map((c) => el("th", {}, c)))),
      el("tbody", {}, shown.map((r) => el("tr", {}, r.map((v) => el("td", {}, v === null ? "NULL" : typeof v === "object" ? JSON.stringify(v) : v)))))));
    if (q.rows.length > shown.length) parts.push(el("p", { class: "muted" }, "(first " + shown.length + " rows shown)"));
  }
  out.replaceChildren(...parts);
}

// ---- routing ----

let routes = 0; // counts route changes: a poll of a page left meanwhile renders nothing

async function route() {
  clearTimeout(timer);
  const my = ++routes;
  const h = location.hash.replace(/^#/, "") || "/";
  document.getElementById("nav-jobs").className = h === "/" || h.startsWith("/jobs/") ? "active" : "";
  document.getElementById("nav-query").className = h.startsWith("/query") ? "active" : "";
  if (h === "/query" || h.startsWith("/query?")) {
    queryPage(new URLSearchParams(h.slice("/query".length)));
    setStatus("");
    return;
  }
  const m = h.match(/^\/jobs\/(.+)$/);
  const page = m ? () => jobPage(decodeURIComponent(m[1])) : jobsPage;
  // Pages are polled every second; a job page stops once its job ended.
  const tick = async () => {
    let p = null;
    try {
      p = await page();
      if (my !== routes) return;
      show(...p.nodes);
      setStatus("updated " + new Date().toLocaleTimeString());
    } catch (e) {
      if (my !== routes) return;
      setStatus(e.status === 401 ? "Unauthorized: open /ui/?token=<token> once." : "Error: " + e.message, true);
    }
    if (!(p && p.stop)) timer = setTimeout(tick, POLL_MS);
  };
  tick();
}

window.addEventListener("hashchange", route);
route();
