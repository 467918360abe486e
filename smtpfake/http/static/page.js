// The sidecar's page: plain DOM, no framework, no build step. Everything a client sent is put in
// the page as text (textContent), never as markup; message HTML goes into a sandboxed frame.
"use strict";

const state = { server: "main", token: sessionStorage.getItem("smtpfake-token") || "",
  selected: null, view: "text", stream: null, timer: null, faults: {} };

const $ = (id) => document.getElementById(id);
// sessions and messages listed at most (the newest); the API pages the rest
const SHOWN = 200;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
}

function base() {
  return state.server === "main" ? "/api" : `/api/servers/${encodeURIComponent(state.server)}`;
}

function headers(extra) {
  const h = Object.assign({ Accept: "application/json" }, extra || {});
  if (state.token) h.Authorization = `Bearer ${state.token}`;
  return h;
}

function showError(text) {
  $("error").hidden = !text;
  $("error").textContent = text || "";
}

async function api(path, options) {
  const opts = Object.assign({}, options || {});
  opts.headers = headers(opts.headers);
  const response = await fetch(path, opts);
  if (response.status === 401) {
    $("token-bar").hidden = false;
    throw new Error("the API needs its token");
  }
  const type = response.headers.get("Content-Type") || "";
  const body = type.startsWith("application/json") ? await response.json() : await response.text();
  if (!response.ok) throw new Error(errorText(body) || `HTTP ${response.status}`);
  return body;
}

// an error answer as text: its message, then each of its problems on a line of its own
// (file:line:col: or field:), unless the message is the one problem itself
function errorText(body) {
  if (!body || typeof body !== "object") return typeof body === "string" ? body : "";
  const problems = (body.problems || []).filter((p) => p !== body.error);
  return [body.error || "", ...problems].filter(Boolean).join("\n");
}

function clock(t, start) {
  const ms = Math.max(0, Math.round((t - start) * 1000));
  return ms < 10000 ? `+${ms}ms` : `+${(ms / 1000).toFixed(1)}s`;
}

// -- scenario -----------------------------------------------------------------------------------

async function loadScenario() {
  const sc = await api(`${base()}/scenario`);
  $("scenario-name").textContent = sc.name;
  $("scenario-summary").textContent = sc.summary || "";
  $("scenario-show").textContent = sc.show || "";
  // rule label -> its faults, to name the fault behind each reply the rule shaped
  state.faults = Object.fromEntries(sc.rules.map((r) => [r.label, r.faults.map((f) => f.type).join(", ")]));
  $("smtp-address").textContent = `SMTP ${sc.smtp.host}:${sc.smtp.port}`;
  const list = await api(`${base()}/scenarios`);
  const select = $("scenario-select");
  select.replaceChildren(...list.scenarios.map((s) =>
    el("option", { value: s.name, title: s.summary || "" }, s.name)));
  select.value = sc.name;
}

// -- clock --------------------------------------------------------------------------------------

function showClock(clock) {
  $("clock-now").textContent = new Date(clock.now * 1000).toISOString().replace(".000Z", "Z");
  $("clock-now").dataset.now = String(clock.now);
  $("clock-kind").textContent = clock.kind;
}

async function loadClock() {
  showClock(await api(`${base()}/clock`));
}

async function advanceClock() {
  const advance = Number($("clock-seconds").value);
  showClock(await api(`${base()}/clock`, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ advance }) }));
}

async function useScenario() {
  const name = $("scenario-select").value;
  await api(`${base()}/scenario`, { method: "PUT", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name }) });
  await loadScenario();
}

// -- sessions -----------------------------------------------------------------------------------

const RFC = /\(?(RFC \d+(?: §[\d.]+)?(?:, §[\d.]+)*)\)?/;

// A client's control octets (ESC, a bare CR, NUL, DEL, C1) shown as \xNN, never played: as
// SessionRecord.format() shows them (smtpfake/visible.py). Octets that were not UTF-8 come from
// the API already shown so (json_text).
const UNSAFE = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

function visible(text) {
  return String(text).replace(UNSAFE, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

// The text form's mark for an entry not delivered whole, in format()'s words (records.py
// not_delivered): a client line whose line ending never came, a reply the client left before it
// was written. null for an entry delivered whole (the API leaves `delivered` out then).
function undelivered(entry) {
  if (entry.delivered !== false) return null;
  if (entry.side === "client") return "(unfinished: no line ending)";
  const n = entry.written || 0;
  const more = entry.text.split("\n").length - sentLines(entry).length;
  const rest = more ? `; ${more} more line${more === 1 ? "" : "s"} not sent` : "";
  return `(not delivered: ${n} octet${n === 1 ? "" : "s"} written${rest})`;
}

// The lines of an entry the text form shows: all of them, or for a reply not delivered whole
// those that crossed, whole or in part (records.py reply_as_sent: the rest never left; a
// reply of which nothing left shows its first line).
const UTF8 = new TextEncoder();
function sentLines(entry) {
  const lines = entry.text.split("\n");
  if (entry.delivered !== false || entry.side === "client") return lines;
  const done = entry.written || 0;
  let at = 0;
  for (let i = 0; i < lines.length; i++) {
    if (at >= done && i) return lines.slice(0, i); // cut at the end of the line before
    at += lineOctets(entry, lines, i); // and its line ending
    if (at > done) return lines.slice(0, i + 1);
  }
  return lines;
}

// A reply line that did not end in CRLF says how it ended, as format() writes it (records.py
// ENDING_TAGS; `endings` is in the API's entry only then); a line the cut fell in says nothing.
const ENDING_TAGS = { lf: "(bare LF)", cr: "(bare CR)", none: "(unfinished: no line ending)" };
const ENDING_OCTETS = { crlf: 2, lf: 1, cr: 1, none: 0 };
function lineOctets(entry, lines, i) {
  const ending = (entry.endings || [])[i];
  return UTF8.encode(lines[i]).length + (ending in ENDING_OCTETS ? ENDING_OCTETS[ending] : 2);
}
function endingTag(entry, lines, i) {
  const tag = ENDING_TAGS[(entry.endings || [])[i]];
  if (!tag) return "";
  if (entry.delivered === false) {
    let at = 0;
    for (let j = 0; j <= i; j++) at += lineOctets(entry, lines, j);
    if (at > (entry.written || 0)) return ""; // its ending never left
  }
  return `   ${tag}`;
}

// One transcript entry as format() writes it: each line after C:/S: (C*/S* for a note), then
// the rule behind a reply and its faults, then the mark of an entry not delivered whole.
function entryCell(entry) {
  const arrow = (entry.side === "client" ? "C" : "S") + (entry.note ? "* " : ": ");
  const text = sentLines(entry)
    .map((line, i, lines) => arrow + visible(line) + endingTag(entry, lines, i)).join("\n");
  const cell = el("div", { class: entry.side }, text);
  if (entry.rule) {
    const faults = state.faults[entry.rule];
    const rule = visible(entry.rule);
    // spaces before each tag, as format() writes them: the words stay apart when copied
    cell.append("   ", el("span", { class: "rule", "data-rule": rule,
      title: "the rule behind this reply, and its faults" }, faults ? `${rule}: ${faults}` : rule));
  }
  const mark = undelivered(entry);
  if (mark) {
    cell.classList.add("undelivered");
    // words, not only a colour: read by screen readers and kept by copy and paste
    cell.append("   ", el("span", { class: "mark", title: entry.side === "client"
      ? "the connection ended before this line's CRLF came: never carried out nor answered"
      : "not written whole: the client left, or a reset or the server's stop cut it" }, mark));
  }
  return cell;
}

function timeline(session) {
  const grid = el("div", { class: "timeline" });
  const rows = session.transcript.map((e) => ({ time: e.time, kind: e.side, entry: e }))
    .concat(session.violations.map((v) => ({ time: v.time, kind: "violation", entry: v })));
  rows.sort((a, b) => a.time - b.time);
  if (session.dropped_entries) {
    grid.append(el("div", { class: "t" }), el("div", { class: "dropped" },
      `... ${session.dropped_entries} earlier entries not kept`));
  }
  for (const row of rows) {
    grid.append(el("div", { class: "t" }, clock(row.time, session.started)));
    if (row.kind === "violation") {
      const v = row.entry;
      const found = v.rfc || (RFC.exec(v.detail) || [])[1];
      // the detail ends with its section in parentheses: shown once, as the .rfc part
      const detail = visible(found ? v.detail.replace(/\s*\(RFC [^()]*\)\s*$/, "") : v.detail);
      // the command it is about, as format() names it (no-quit and the like are about none)
      const on = v.command ? ` (on '${visible(v.command)}')` : "";
      const cell = el("div", { class: "violation", "data-kind": v.kind }, `! ${v.kind}: ${detail}${on}`);
      if (found) cell.append(el("span", { class: "rfc" }, found));
      grid.append(cell);
    } else if (row.kind === "client") {
      grid.append(entryCell(row.entry), el("div", { class: "server" }));
    } else {
      // the server column: an empty client cell before it keeps the two sides apart
      grid.append(el("div", { class: "client" }), entryCell(row.entry));
    }
  }
  return grid;
}

async function loadSessions() {
  // the newest first, and only as many as a page can show quickly
  const got = await api(`${base()}/sessions?order=newest&limit=${SHOWN}`);
  $("session-count").textContent = got.total > got.count ? `latest ${got.count} of ${got.total}` : String(got.total);
  const items = got.sessions.map((s) => {
    const extra = [s.tls ? "TLS" : "", s.auth_user !== null ? `AUTH ${visible(s.auth_user)}` : ""].filter(Boolean).join(", ");
    const when = new Date(s.started * 1000).toLocaleTimeString();
    const box = el("div", { class: `session${s.ended === null ? " open" : ""}`, "data-index": String(s.index) },
      el("h3", {}, `session ${s.index} from ${s.peer || "?"} at ${when}${extra ? ` (${extra})` : ""}`),
      timeline(s));
    return box;
  });
  $("sessions").replaceChildren(...items);
}

// -- messages -----------------------------------------------------------------------------------

async function loadMessages() {
  const got = await api(`${base()}/messages?order=newest&limit=${SHOWN}`);
  $("message-count").textContent = got.total > got.count ? `latest ${got.count} of ${got.total}` : String(got.total);
  const items = got.messages.map((m) => {
    const li = el("li", { class: "message", "data-id": String(m.id) },
      m.subject || "(no subject)",
      el("small", {}, `${m.mail_from || "<>"} → ${m.rcpt_tos.join(", ")} · ${m.size} bytes · session ${m.session}`));
    if (m.id === state.selected) li.classList.add("selected");
    li.addEventListener("click", () => openMessage(m.id).catch((e) => showError(e.message)));
    return li;
  });
  $("messages").replaceChildren(...items);
  if (state.selected !== null && !got.messages.some((m) => m.id === state.selected)) {
    state.selected = null;
    $("message").hidden = true;
  }
}

function frameDocument(html) {
  // a policy inside the frame too: no script, no remote fetches, inline style only
  const policy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";
  return `<!doctype html><meta http-equiv="Content-Security-Policy" content="${policy}">${html}`;
}

async function raw(id) {
  const response = await fetch(`${base()}/messages/${id}/raw`, { headers: headers() });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.blob();
}

function setView(view) {
  state.view = view;
  $("message-text").hidden = view !== "text";
  $("message-html").hidden = view !== "html";
  $("message-headers").hidden = view !== "headers";
  $("message-raw").hidden = view !== "raw";
}

async function openMessage(id) {
  const m = await api(`${base()}/messages/${id}`);
  state.selected = id;
  for (const li of document.querySelectorAll("#messages li")) {
    li.classList.toggle("selected", li.dataset.id === String(id));
  }
  $("message").hidden = false;
  $("message").dataset.id = String(id);
  $("message-subject").textContent = m.subject || "(no subject)";
  $("message-envelope").replaceChildren(
    el("dt", {}, "MAIL FROM"), el("dd", {}, m.envelope.mail_from || "<>"),
    el("dt", {}, "RCPT TO"), el("dd", {}, m.envelope.rcpt_tos.join(", ")),
    el("dt", {}, "received"), el("dd", {}, new Date(m.time * 1000).toLocaleString()),
    el("dt", {}, "queue id"), el("dd", {}, `${m.queue_id} (session ${m.session})`));
  $("message-text").textContent = m.text !== null ? m.text : "(no text part)";
  $("message-html").srcdoc = frameDocument(m.html !== null ? m.html : "<p>(no HTML part)</p>");
  $("message-headers").textContent = m.headers.map(([k, v]) => `${k}: ${v}`).join("\n");
  $("message-raw").textContent = await (await raw(id)).text();
  $("message-attachments").replaceChildren(...m.attachments.map((a) =>
    el("li", {}, `${a.name || "(unnamed)"} · ${a.type} · ${a.size} bytes`)));
  setView(m.text === null && m.html !== null && state.view === "text" ? "html" : state.view);
}

async function download() {
  const id = state.selected;
  if (id === null) return;
  const url = URL.createObjectURL(await raw(id));
  const link = el("a", { href: url, download: `message-${id}.eml` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// -- servers ------------------------------------------------------------------------------------

async function loadServers() {
  const got = await api("/api/servers");
  const select = $("server-select");
  select.replaceChildren(...got.servers.map((s) =>
    el("option", { value: s.id }, s.id === "main" ? "main" : `${s.id} (${s.scenario}, :${s.smtp_port})`)));
  if (!got.servers.some((s) => s.id === state.server)) state.server = "main";
  select.value = state.server;
}

// -- live updates -------------------------------------------------------------------------------

async function refresh() {
  try {
    await Promise.all([loadSessions(), loadMessages()]);
    showError("");
  } catch (e) {
    showError(e.message);
  }
}

function soon(what) {
  // many events arrive together (a whole SMTP exchange): one refresh for the lot
  clearTimeout(state.timer);
  state.timer = setTimeout(what, 80);
}

async function follow() {
  // fetch, not EventSource, so the token travels in a header and never in a URL
  const controller = new AbortController();
  state.stream = controller;
  try {
    const response = await fetch(`${base()}/events`, { headers: headers({ Accept: "text/event-stream" }), signal: controller.signal });
    if (!response.ok) throw new Error(`event stream: HTTP ${response.status}`);
    $("live").textContent = "live";
    $("live").classList.add("on");
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const type = (/^event: (.*)$/m.exec(block) || [])[1];
        if (!type) continue;
        // subscribed: refresh once, for what happened between the first load and now
        if (type === "hello") { soon(refresh); continue; }
        if (type === "scenario" || type === "reset") loadScenario().catch((e) => showError(e.message));
        if (type === "server") loadServers().catch((e) => showError(e.message));
        if (type === "clock") loadClock().catch((e) => showError(e.message));
        soon(refresh);
      }
    }
  } catch (e) {
    if (controller.signal.aborted) return;
  }
  $("live").textContent = "reconnecting";
  $("live").classList.remove("on");
  if (state.stream === controller) setTimeout(() => { if (state.stream === controller) follow(); }, 1000);
}

async function switchServer(id) {
  state.server = id;
  $("live").textContent = "connecting";
  $("live").classList.remove("on");
  state.selected = null;
  $("message").hidden = true;
  if (state.stream) state.stream.abort();
  await start();
}

async function start() {
  try {
    await loadServers();
    await Promise.all([loadScenario(), loadClock(), refresh()]);
    showError("");
  } catch (e) {
    showError(e.message);
  }
  follow();
}

document.addEventListener("DOMContentLoaded", () => {
  $("use-scenario").addEventListener("click", () => useScenario().catch((e) => showError(e.message)));
  $("reset").addEventListener("click", () =>
    api(`${base()}/reset`, { method: "POST" }).then(refresh).catch((e) => showError(e.message)));
  $("delete-all").addEventListener("click", () =>
    api(`${base()}/messages`, { method: "DELETE" }).then(refresh).catch((e) => showError(e.message)));
  $("server-select").addEventListener("change", (e) => switchServer(e.target.value));
  $("download").addEventListener("click", () => download().catch((e) => showError(e.message)));
  $("clock-advance").addEventListener("click", () => advanceClock().catch((e) => showError(e.message)));
  for (const button of document.querySelectorAll("button.view")) {
    button.addEventListener("click", () => setView(button.dataset.view));
  }
  $("token-save").addEventListener("click", () => {
    state.token = $("token").value;
    sessionStorage.setItem("smtpfake-token", state.token);
    $("token-bar").hidden = true;
    if (state.stream) state.stream.abort();
    start();
  });
  start();
});
