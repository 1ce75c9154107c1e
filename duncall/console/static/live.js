// The live board: calls in progress with their transcript as it is spoken, today's totals,
// campaign control and supervision. Data comes over /api/live/ws (see routers/live.py).
"use strict";

const live = {
  calls: new Map(), // attempt id → {info, turns: Map(event id → turn), receivedAt}
  campaigns: [],
  lastId: null, // the last event id seen: a reconnect resumes from it
  sessions: new Map(), // attempt id → {id, mode} of this supervisor's session on the call
  errors: new Map(), // attempt id → the last supervision error on it
  busy: new Set(), // attempt ids with a supervision request in flight
  messages: new Map(), // campaign → {ok: text} or {error} of the last control action
  board: null,
  me: null,
  retryMs: 1000,
  ws: null,
  connects: 0, // how many times the socket opened (reconnects show on the status line)
};
const SUPERVISE = [["listen", "Listen"], ["whisper", "Whisper"], ["barge", "Barge"], ["takeover", "Take over"]];

function can(perm) {
  return live.me && live.me.permissions.includes(perm);
}

function pct(rate) {
  return rate === null || rate === undefined ? "—" : (rate * 100).toFixed(1) + " %";
}

function fail(target, error) {
  // showError replaces the element's class; keep the element's own one beside "error".
  const own = target.dataset.cls || target.className;
  target.dataset.cls = own;
  showError(target, error);
  target.classList.add(own);
}

function succeed(target, text) {
  const own = target.dataset.cls || target.className;
  target.dataset.cls = own;
  target.textContent = text;
  target.className = own + " ok";
}

function idLess(a, b) {
  // Stream ids are "<ms>-<seq>"; compare as numbers, not as strings.
  const [am, as] = a.split("-").map(Number);
  const [bm, bs] = b.split("-").map(Number);
  return am < bm || (am === bm && as < bs);
}

function turnLine(t) {
  const text = t.dtmf ? `[key ${t.dtmf}]` : t.text || "…";
  return el("li", { class: t.speaker, "data-id": t.id, "data-speaker": t.speaker },
    el("span", { class: "who" }, t.speaker === "bot" ? "Bot" : "Debtor"),
    el("span", { class: "text" }, text + (t.interrupted ? " (interrupted)" : "")),
    t.intent ? el("span", { class: "intent muted" }, t.intent) : null);
}

function callTurns(id) {
  const c = live.calls.get(id);
  return c ? [...c.turns.values()].sort((a, b) => (idLess(a.id, b.id) ? -1 : 1)) : [];
}

function renderTranscript(id) {
  const list = document.querySelector(`#active ol[data-transcript="${id}"]`);
  if (list) list.replaceChildren(...callTurns(id).map(turnLine));
}

function supervisionCell(c) {
  if (!can("live_supervise")) return el("td", {});
  const id = c.attempt_id;
  const session = live.sessions.get(id);
  const busy = live.busy.has(id);
  const status = el("span", { class: "supervision muted" }, busy ? "connecting…" : session ? session.mode : "");
  const error = el("span", { class: "call-error" });
  if (live.errors.has(id)) fail(error, live.errors.get(id));
  const buttons = SUPERVISE.map(([mode, label]) => el("button", {
    type: "button", "data-mode": mode, class: session && session.mode === mode ? "on" : "",
    onclick: () => supervise(id, mode),
  }, label));
  buttons.push(el("button", { type: "button", "data-mode": "hangup", onclick: () => endSupervision(id) }, "Hang up"));
  for (const b of buttons) b.disabled = busy || (b.dataset.mode === "hangup" && !session);
  return el("td", { class: "supervise" }, buttons, status, error);
}

async function supervise(attemptId, mode) {
  live.errors.delete(attemptId);
  live.busy.add(attemptId);
  renderCalls();
  try {
    const session = live.sessions.get(attemptId);
    // Starting rings the supervisor's own phone: the answer comes once they pick up.
    const out = session
      ? await api(`/api/live/supervision/${session.id}`, { json: { mode } })
      : await api(`/api/live/calls/${attemptId}/supervise`, { json: { mode } });
    live.sessions.set(attemptId, { id: out.session_id, mode: out.mode });
  } catch (e) {
    live.errors.set(attemptId, e);
  } finally {
    live.busy.delete(attemptId);
  }
  renderCalls();
}

async function endSupervision(attemptId) {
  const session = live.sessions.get(attemptId);
  if (!session) return;
  live.errors.delete(attemptId);
  try {
    await api(`/api/live/supervision/${session.id}`, { method: "DELETE" });
  } catch (e) {
    if (e.status !== 404) live.errors.set(attemptId, e); // 404: the session had ended already
  }
  live.sessions.delete(attemptId);
  renderCalls();
}

function renderCalls() {
  const rows = [];
  for (const [id, c] of live.calls) {
    const i = c.info;
    rows.push(el("tr", { "data-call": id, class: "call" },
      el("td", {}, fmtTime(i.since)), el("td", { class: "seconds" }, i.seconds), el("td", {}, i.campaign || ""),
      el("td", { class: "debtor" }, i.debtor || ""), el("td", { class: "number" }, i.number || ""),
      el("td", { class: "state" }, i.state), el("td", { class: "dialogue-state" }, i.dialogue_state || ""),
      el("td", {}, i.script || ""), supervisionCell(i)));
    rows.push(el("tr", { class: "transcript-row", "data-transcript-row": id },
      el("td", { colspan: 9 }, el("ol", { class: "transcript", "data-transcript": id }, callTurns(id).map(turnLine)))));
  }
  document.querySelector("#active tbody").replaceChildren(...rows);
  document.getElementById("no-calls").hidden = live.calls.size > 0;
}

function tickDurations() {
  const now = Date.now();
  for (const [id, c] of live.calls) {
    const cell = document.querySelector(`#active tr[data-call="${id}"] td.seconds`);
    if (cell) cell.textContent = Math.round(c.info.seconds + (now - c.receivedAt) / 1000);
  }
}

function applyControl(out) {
  // Show the new state at once; the board that follows (pushed on the control event) confirms it.
  if (!live.board) return;
  live.board.campaigns = live.board.campaigns.map((c) => (c.campaign === out.campaign ? out : c));
  renderCampaigns(live.board, true);
}

async function control(campaign, action) {
  try {
    const out = await api(`/api/live/campaigns/${encodeURIComponent(campaign)}/${action}`, { method: "POST" });
    live.messages.set(campaign, { ok: action === "stop" ? "stopping: calls in progress finish" : action + "d" });
    applyControl(out);
  } catch (e) {
    live.messages.set(campaign, { error: e });
    renderCampaigns(live.board, true);
  }
}

async function setLimits(campaign, form) {
  const concurrency = Number(form.querySelector("[name=concurrency]").value);
  const cps = Number(form.querySelector("[name=cps]").value);
  try {
    const out = await api(`/api/live/campaigns/${encodeURIComponent(campaign)}/limits`,
      { method: "PUT", json: { concurrency, cps } });
    live.messages.set(campaign, { ok: `limits ${out.concurrency} calls, ${out.cps} per second` });
    applyControl(out);
  } catch (e) {
    live.messages.set(campaign, { error: e });
    renderCampaigns(live.board, true);
  }
}

function renderCampaigns(board, force = false) {
  const totals = new Map(board.today.map((t) => [t.campaign, t]));
  const names = [...new Set([...board.campaigns.map((c) => c.campaign), ...board.today.map((t) => t.campaign)])]
    .filter((n) => n).sort();
  const controls = new Map(board.campaigns.map((c) => [c.campaign, c]));
  const rows = names.map((name) => {
    const t = totals.get(name) || { dialed: 0, live: 0, connected: 0, promises: 0, abandoned: 0, abandon_rate: null };
    const c = controls.get(name);
    const message = el("span", { class: "control-message" });
    const said = live.messages.get(name);
    if (said && said.error) fail(message, said.error);
    else if (said) succeed(message, said.ok);
    let controlCell = el("td", {}, c ? "" : "not run from this dialer");
    if (c && can("campaign_control") && ["running", "paused"].includes(c.state)) {
      const form = el("form", { class: "limits", novalidate: "", onsubmit: (e) => { e.preventDefault(); setLimits(name, form); } },
        el("input", { name: "concurrency", type: "number", min: 1, max: 500, value: c.concurrency, title: "live calls at once" }),
        el("input", { name: "cps", type: "number", min: 0, max: 200, value: c.cps, title: "calls per second (0: no limit)" }),
        el("button", { type: "submit" }, "Set limits"));
      controlCell = el("td", { class: "control" },
        c.state === "running"
          ? el("button", { type: "button", "data-action": "pause", onclick: () => control(name, "pause") }, "Pause")
          : el("button", { type: "button", "data-action": "resume", onclick: () => control(name, "resume") }, "Resume"),
        el("button", { type: "button", "data-action": "stop", onclick: () => control(name, "stop") }, "Stop"),
        form, message);
    } else if (c) {
      controlCell = el("td", { class: "muted" }, `${c.concurrency} calls, ${c.cps}/s`);
    }
    return el("tr", { "data-campaign": name },
      el("td", {}, name),
      el("td", { class: "run-state" }, c ? (c.held && c.state === "running" ? "paused: " + c.held : c.state) + (c.dialer_running ? "" : " (no dialer)") : "—"),
      el("td", { class: "dialed" }, t.dialed), el("td", { class: "live" }, t.live),
      el("td", { class: "connected" }, t.connected), el("td", { class: "promises" }, t.promises),
      el("td", { class: "abandon-rate" }, pct(t.abandon_rate)), controlCell);
  });
  // Keep a form the supervisor is typing in: do not rebuild the table under them.
  const typing = document.activeElement && document.activeElement.closest("#campaigns form input");
  if (force || !typing) document.querySelector("#campaigns tbody").replaceChildren(...rows);
  document.querySelector("#today tbody").replaceChildren(...board.today.map((t) => el("tr", {},
    el("td", {}, t.campaign || ""), el("td", {}, t.ended),
    el("td", {}, Object.entries(t.dispositions).map(([k, v]) => `${k}: ${v}`).join(", ")))));
}

function onBoard(board) {
  live.board = board;
  const now = Date.now();
  const seen = new Set();
  for (const info of board.active) {
    seen.add(info.attempt_id);
    const c = live.calls.get(info.attempt_id) || { turns: new Map() };
    c.info = info;
    c.receivedAt = now;
    for (const t of info.turns) c.turns.set(t.id, t);
    live.calls.set(info.attempt_id, c);
  }
  for (const id of [...live.calls.keys()]) {
    if (!seen.has(id)) {
      live.calls.delete(id);
      live.sessions.delete(id); // the call ended: so did any supervision of it
      live.errors.delete(id);
    }
  }
  if (board.last_id && (!live.lastId || idLess(live.lastId, board.last_id))) live.lastId = board.last_id;
  const status = document.getElementById("status");
  status.textContent = "updated " + fmtTime(board.at) + (board.live ? "" : " — live transcripts unavailable (Redis)");
  status.className = board.live ? "muted" : "error";
  renderCalls();
  renderCampaigns(board);
}

function onEvent(ev) {
  live.lastId = ev.id;
  if (ev.kind !== "turn") return; // the board that follows carries the rest
  const c = live.calls.get(ev.attempt_id);
  if (!c) return;
  c.turns.set(ev.id, ev);
  if (ev.state) {
    c.info.dialogue_state = ev.state;
    const cell = document.querySelector(`#active tr[data-call="${ev.attempt_id}"] td.dialogue-state`);
    if (cell) cell.textContent = ev.state;
  }
  renderTranscript(ev.attempt_id);
}

function connect() {
  const since = live.lastId ? "?since=" + encodeURIComponent(live.lastId) : "";
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/live/ws" + since);
  live.ws = ws;
  ws.onopen = () => { live.retryMs = 1000; live.connects += 1; };
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.type === "event") onEvent(m);
    else onBoard(m);
  };
  ws.onclose = (e) => {
    if (window.duncallLeaving) return;
    if (e.code === 4401) { location.href = "/login?next=/live"; return; }
    const status = document.getElementById("status");
    status.textContent = e.code === 4403 ? "your role may not watch the live board" : "disconnected; reconnecting…";
    status.className = "error";
    if (e.code !== 4403) {
      setTimeout(connect, live.retryMs);
      live.retryMs = Math.min(live.retryMs * 2, 10000);
    }
  };
}

startPage().then((me) => {
  live.me = me;
  setInterval(tickDurations, 1000);
  connect();
});
