// whistle live view: one Server-Sent Events stream from /api/stream, books kept here.
// Each "md" message has one JSON array of updates per line; every update carries its
// symbol's md sequence number: a snapshot resets it, each delta is exactly +1, anything
// else is a gap and we ask the server for a fresh snapshot of that symbol.
"use strict";

const TAPE_MAX = 40;
const LADDER_ROWS = 10;
const books = new Map(); // symbol_id -> book
let streamId = null;
let selected = new URLSearchParams(location.search).get("symbol");
let dirty = false;
let lastHosts = null; // {t, commands: Map host_id -> n}

function book(u) {
  let b = books.get(u.sid);
  if (!b) {
    b = { sid: u.sid, sym: u.sym, seq: null, stale: false, state: "?", bids: new Map(),
          asks: new Map(), bid: null, ask: null, last: null, tape: [] };
    books.set(u.sid, b);
  }
  return b;
}

function levelMap(list) {
  const m = new Map();
  for (const [price, ticks, qty, lots, orders] of list) m.set(ticks, { price, qty, lots, orders });
  return m;
}

function requestSnapshot(b) {
  if (b.stale || streamId === null) return;
  b.stale = true;
  window.__whistleSnapshots = (window.__whistleSnapshots || 0) + 1;
  fetch(`/api/snapshot?stream=${streamId}&symbol_id=${b.sid}`, { method: "POST" })
    .catch(() => {});
}

function apply(u) {
  const b = book(u);
  if (u.k === "snapshot") {
    b.seq = u.seq; b.stale = false; b.state = u.state;
    b.bids = levelMap(u.bids); b.asks = levelMap(u.asks);
    b.bid = u.bid; b.ask = u.ask; b.last = u.last;
    return;
  }
  if (b.stale) return;
  // Test hook (tests/browser): lose one delta on purpose, as a dropped message would.
  if (window.__whistleLoseNext) { window.__whistleLoseNext = false; return; }
  if (b.seq === null || u.seq !== b.seq + 1) { requestSnapshot(b); return; }
  b.seq = u.seq;
  switch (u.k) {
    case "level": {
      const side = u.side === "B" ? b.bids : b.asks;
      if (u.qty_lots === 0 && u.orders === 0) side.delete(u.price_ticks);
      else side.set(u.price_ticks, { price: u.price, qty: u.qty, lots: u.qty_lots, orders: u.orders });
      break;
    }
    case "bbo": b.bid = u.bid; b.ask = u.ask; break;
    case "trade":
      b.last = u.price;
      b.tape.unshift(u);
      if (b.tape.length > TAPE_MAX) b.tape.length = TAPE_MAX;
      break;
    case "status": b.state = u.state; break;
  }
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return e;
}

function fmtTime(ns) {
  if (!ns) return "";
  const d = new Date(Number(BigInt(ns) / 1000000n));
  return d.toISOString().slice(11, 23);
}

function renderSymbols() {
  const body = document.querySelector("#symbols tbody");
  const rows = [...books.values()].sort((a, b) => a.sym.localeCompare(b.sym));
  if (selected === null && rows.length) selected = rows[0].sym;
  body.replaceChildren(...rows.map((b) => {
    const tr = el("tr", { class: b.sym === selected ? "selected" : "", "data-symbol": b.sym },
      el("td", {}, b.sym),
      el("td", {}, el("span", { class: "state " + b.state }, b.state)),
      el("td", { class: "num" }, b.bid ? `${b.bid[1]} @ ${b.bid[0]}` : "-"),
      el("td", { class: "num" }, b.ask ? `${b.ask[1]} @ ${b.ask[0]}` : "-"),
      el("td", { class: "num" }, b.last ?? "-"));
    tr.addEventListener("click", () => { selected = b.sym; schedule(); });
    return tr;
  }));
}

function selectedBook() {
  for (const b of books.values()) if (b.sym === selected) return b;
  return null;
}

function renderLadder() {
  const b = selectedBook();
  const body = document.querySelector("#ladder tbody");
  document.getElementById("ladder-symbol").textContent = b ? b.sym : "";
  const st = document.getElementById("ladder-state");
  st.textContent = b ? b.state : ""; st.className = "state " + (b ? b.state : "");
  if (!b) { body.replaceChildren(); return; }
  const asks = [...b.asks.entries()].sort((x, y) => x[0] - y[0]).slice(0, LADDER_ROWS).reverse();
  const bids = [...b.bids.entries()].sort((x, y) => y[0] - x[0]).slice(0, LADDER_ROWS);
  let max = 0;
  for (const [, lv] of asks.concat(bids)) max = Math.max(max, lv.lots);
  const rows = [];
  asks.forEach(([ticks, lv], i) => rows.push(el("tr",
    { class: "level ask" + (i === asks.length - 1 ? " best" : ""), "data-price": lv.price,
      "data-qty": lv.qty, "data-side": "S" },
    el("td", { class: "num" }), el("td", { class: "num bidqty" }),
    el("td", { class: "num price" }, lv.price),
    el("td", { class: "num askqty" }, barOf(lv, max), lv.qty),
    el("td", { class: "num" }, String(lv.orders)))));
  bids.forEach(([ticks, lv], i) => rows.push(el("tr",
    { class: "level bid" + (i === 0 ? " best" : "") + (i === 0 && asks.length ? " spread" : ""),
      "data-price": lv.price, "data-qty": lv.qty, "data-side": "B" },
    el("td", { class: "num" }, String(lv.orders)),
    el("td", { class: "num bidqty" }, barOf(lv, max), lv.qty),
    el("td", { class: "num price" }, lv.price),
    el("td", { class: "num askqty" }), el("td", { class: "num" }))));
  body.replaceChildren(...rows);
  document.getElementById("ladder-empty").hidden = rows.length > 0;
}

function barOf(lv, max) {
  const bar = el("div", { class: "bar" });
  bar.style.width = max ? `${Math.max(2, Math.round((100 * lv.lots) / max))}%` : "0";
  return bar;
}

function renderTape() {
  const b = selectedBook();
  document.getElementById("tape-symbol").textContent = b ? b.sym : "";
  const body = document.querySelector("#tape tbody");
  body.replaceChildren(...(b ? b.tape : []).map((t) => el("tr", { class: t.side, "data-trade": t.id },
    el("td", {}, fmtTime(t.ts)), el("td", { class: "num px" }, t.price),
    el("td", { class: "num" }, t.qty), el("td", {}, t.side === "B" ? "buy" : "sell"))));
}

function renderStatus(s) {
  const now = performance.now();
  const prev = lastHosts;
  const commands = new Map(s.hosts.map((h) => [h.host_id, h.commands]));
  document.querySelector("#hosts tbody").replaceChildren(...s.hosts.map((h) => {
    let rate = "-";
    if (prev && prev.commands.has(h.host_id) && now > prev.t) {
      rate = String(Math.round(((h.commands - prev.commands.get(h.host_id)) * 1000) / (now - prev.t)));
    }
    const names = s.symbols.filter((x) => x.host_id === h.host_id).map((x) => x.symbol).sort();
    return el("tr", { "data-host": String(h.host_id) }, el("td", {}, String(h.host_id)),
      el("td", { class: "num" }, String(h.symbols)), el("td", { class: "num" }, String(h.commands)),
      el("td", { class: "num" }, rate), el("td", { class: "names" }, names.join(" ")));
  }));
  lastHosts = { t: now, commands };
  document.getElementById("md-stats").textContent =
    `market data: ${s.md.subscriptions} subscriptions, ${s.md.updates} updates, ` +
    `${s.md.conflations} conflations, ${s.md.dropped} dropped; enq_seq ${s.enq_seq}` +
    (s.journaled ? ", journaled" : "");
  document.getElementById("clock").textContent = fmtTime(s.now_ns);
  schedule();
}

function schedule() {
  if (dirty) return;
  dirty = true;
  requestAnimationFrame(() => { dirty = false; renderSymbols(); renderLadder(); renderTape(); });
}

function connect() {
  const conn = document.getElementById("conn");
  const params = new URLSearchParams(location.search);
  const q = new URLSearchParams();
  if (params.get("symbols")) q.set("symbols", params.get("symbols"));
  const es = new EventSource("/api/stream" + (q.toString() ? "?" + q : ""));
  es.addEventListener("hello", (e) => {
    streamId = JSON.parse(e.data).stream;
    for (const b of books.values()) { b.seq = null; b.stale = false; }
    conn.textContent = "live"; conn.className = "conn on";
  });
  es.addEventListener("md", (e) => {
    for (const line of e.data.split("\n")) for (const u of JSON.parse(line)) apply(u);
    schedule();
  });
  es.addEventListener("status", (e) => renderStatus(JSON.parse(e.data)));
  es.addEventListener("dropped", (e) => {
    conn.textContent = "dropped: " + JSON.parse(e.data); conn.className = "conn off";
  });
  es.onerror = () => { conn.textContent = "reconnecting"; conn.className = "conn off"; };
}

connect();
