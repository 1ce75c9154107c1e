// The desk: ready / paused / on a call / wrap-up, a softphone (JsSIP over the PBX's SIP
// WebSocket), the account's screen pop when a call connects, and the wrap-up form.
// The desk's state lives on the server (the dialer moves it along a call); this page polls it.
// The SIP password comes from GET /api/desk over the logged-in session and is never logged.
"use strict";

const $ = (sel) => document.querySelector(sel);
const POLL_MS = 500;
// What a test (or a curious collector, in the console) can read about the audio.
window.desk = { registered: false, call: "none", maxRms: 0, heardAt: null, account: null };

let desk = null;   // the last state the server gave
let session = null;
let placing = false;  // a click-to-call is being placed: its ring may come before the answer does
let popped = null;
let audioCtx = null;

function message(text, isError) {
  $("#message").textContent = text;
  $("#message").className = isError ? "error" : "";
}

function setCall(what) {
  window.desk.call = what;
  $("#call").textContent = what;
  $("#call").dataset.call = what;
  $("#hangup").disabled = what !== "talking";
}

function listen(stream) {
  // The remote stream plays through the <audio> element (without one, WebAudio reads silence).
  const audio = $("#remote");
  audio.srcObject = stream;
  audio.play().catch(() => {});
  audioCtx = audioCtx || new AudioContext();
  const analyser = audioCtx.createAnalyser();
  analyser.fftSize = 2048;
  audioCtx.createMediaStreamSource(stream).connect(analyser);
  const buf = new Float32Array(analyser.fftSize);
  const tick = () => {
    if (!session) return;
    analyser.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const v of buf) sum += v * v;
    const rms = Math.sqrt(sum / buf.length);
    window.desk.maxRms = Math.max(window.desk.maxRms, rms);
    if (rms > 0.01 && window.desk.heardAt === null) window.desk.heardAt = Date.now();
    requestAnimationFrame(tick);
  };
  tick();
}

function startPhone(phone) {
  const ua = new JsSIP.UA({
    sockets: [new JsSIP.WebSocketInterface(phone.ws_url)],
    uri: phone.uri,
    password: phone.password,
    register: true,
    session_timers: false,
  });
  const shown = (registered, text) => {
    window.desk.registered = registered;
    $("#phone").textContent = text;
    $("#phone").dataset.phone = registered ? "on" : "off";
  };
  ua.on("registered", () => shown(true, "registered"));
  ua.on("unregistered", () => shown(false, "not registered"));
  ua.on("registrationFailed", (e) => shown(false, "registration failed: " + e.cause));
  ua.on("disconnected", () => shown(false, "PBX unreachable, retrying"));
  ua.on("newRTCSession", ({ session: s, originator }) => {
    if (originator !== "remote") return;
    // The dialer rings a desk it has claimed for an answered debtor: answer at once, as
    // predictive dialing needs (the debtor is already on the line). Anything else is refused.
    // A click-to-call rings this phone as soon as the guard allows it, before the page has
    // the server's answer (and its "connecting" state): it is this page's own call.
    if (session || !(placing || (desk && ["ready", "connecting"].includes(desk.state)))) {
      s.terminate({ status_code: 486 });
      return;
    }
    session = s;
    window.desk.maxRms = 0;
    window.desk.heardAt = null;
    s.on("peerconnection", ({ peerconnection: pc }) =>
      pc.addEventListener("track", (e) => listen(e.streams[0])));
    s.on("confirmed", () => setCall("talking"));
    const ended = () => { session = null; setCall("ended"); };
    s.on("ended", ended);
    s.on("failed", ended);
    setCall("answering");
    s.answer({ mediaConstraints: { audio: true, video: false }, pcConfig: { iceServers: [] } });
  });
  ua.start();
  window.addEventListener("beforeunload", () => ua.stop());
}

function rows(target, items, cells) {
  $(target + " tbody").replaceChildren(...items.map((item) => el("tr", {}, cells(item).map((c) => el("td", {}, c)))));
}

async function pop(accountId) {
  const p = await api("/api/accounts/" + encodeURIComponent(accountId));
  const a = p.account;
  window.desk.account = a.id;
  $("#pop-title").textContent = "Account " + a.id;
  $("#pop").dataset.account = a.id;
  $("#pop-identity").replaceChildren(...[
    ["Name", [a.first_name, a.last_name].filter(Boolean).join(" ")], ["Creditor", p.creditor || "—"],
    ["Balance", `${a.balance} ${a.currency}`], ["Due", a.due_date || ""],
    ["Days past due", a.days_past_due ?? ""], ["Language", a.language], ["Time zone", a.timezone],
  ].map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", { "data-field": k }, v))));
  rows("#pop-phones", p.phones, (ph) => [ph.number, ph.status, ph.phone_type]);
  $("#pop-flags").replaceChildren(...(p.flags.length ? p.flags.map((f) => el("span", { class: "flag" }, f.name))
    : [el("span", { class: "muted" }, "none")]));
  rows("#pop-promises", p.promises, (pr) => [fmtTime(pr.made_at), `${pr.amount} ${pr.currency}`, pr.due, pr.status, pr.channel || ""]);
  rows("#pop-timeline", p.timeline.slice(0, 8), (e) => [fmtTime(e.at), e.channel, e.outcome || "", e.disposition || ""]);
  $("#pop").hidden = false;
}

function render(d) {
  desk = d;
  $("#state").textContent = d.state + (d.reason ? ` (${d.reason})` : "");
  $("#state").dataset.state = d.state;
  $("#ready").disabled = !["offline", "paused", "ready"].includes(d.state) || d.state === "ready";
  $("#pause").disabled = !["offline", "ready"].includes(d.state);
  $("#wrap").hidden = !["on_call", "wrap_up"].includes(d.state);
  // A call the bot transferred: what the bot and the debtor said before it came here.
  const said = d.transcript || [];
  $("#pop-transcript").hidden = said.length === 0;
  if (said.length !== $("#transcript tbody").children.length) {
    rows("#transcript", said, (t) => [t.speaker === "bot" ? "bot" : "debtor", t.text]);
  }
  if (d.account_id && d.account_id !== popped) {
    popped = d.account_id;
    pop(d.account_id).catch((e) => showError($("#message"), e));
  }
}

async function poll() {
  try {
    render(await api("/api/desk/state"));
  } catch (e) {
    showError($("#message"), e);
  }
  setTimeout(poll, POLL_MS);
}

async function choose(state) {
  try {
    if (state === "ready" && audioCtx === null) audioCtx = new AudioContext();  // a click may start audio
    render(await api("/api/desk/state", { json: { state, reason: state === "paused" ? $("#pause-reason").value : "" } }));
    message("");
  } catch (e) {
    showError($("#message"), e);
  }
}

async function wrapUp(event) {
  event.preventDefault();
  const f = new FormData(event.target);
  const body = { disposition: f.get("disposition"), note: f.get("note") || "", then: f.get("then") };
  for (const k of ["promise_amount", "promise_date", "callback_on", "plan_first_date"]) if (f.get(k)) body[k] = f.get(k);
  if (f.get("plan_instalments")) body.plan_instalments = Number(f.get("plan_instalments"));
  body.flags = f.getAll("flags");
  if (body.then === "paused") body.reason = $("#pause-reason").value;
  try {
    render(await api("/api/desk/wrapup", { json: body }));
    $("#wrap-message").textContent = "saved";
    $("#wrap-message").className = "";
    event.target.reset();
    popped = null;
    $("#pop").hidden = true;
    setCall("none");
    loadWorklist();
  } catch (e) {
    showError($("#wrap-message"), e);
  }
}

// The collector's worklist (their accounts, most urgent first) and the guard's word on each
// number now. "Call" asks the server, whose guard decides as for any dial: refused, its reasons
// show here and nothing is dialled; allowed, the debtor is dialled and this desk's phone rings
// once a person answers.
async function loadWorklist() {
  try {
    const w = await api("/api/desk/worklist");
    rows("#worklist-table", w.items, (i) => [
      String(i.rank), i.account_id, `${i.balance} ${i.currency}`, i.dpd ?? "", i.strategy,
      el("ul", {}, i.numbers.map((n) => el("li", { "data-number": n.number },
        n.number + " ",
        el("button", { type: "button", class: "call", "data-account": i.account_id, "data-number": n.number,
          onclick: () => callNumber(i.account_id, n.number) }, "Call"),
        n.callable_now ? "" : el("span", { class: "muted" },
          " not now: " + n.reasons.join(", ") + (n.next_at ? " (from " + fmtTime(n.next_at) + ")" : ""))))),
    ]);
  } catch (e) {
    showError($("#call-message"), e);
  }
}

async function callNumber(accountId, number) {
  const shown = $("#call-message");
  try {
    if (audioCtx === null) audioCtx = new AudioContext();  // a click may start audio
    placing = true;
    let d;
    try {
      d = await api("/api/desk/call", { json: { account_id: accountId, number } });
    } finally {
      placing = false;
    }
    render(d);  // connecting: this page's phone answers the desk's ring
    shown.textContent = `calling ${number} (account ${accountId})`;
    shown.className = "";
    shown.dataset.outcome = "calling";
    // No answer detection on the desk's own calls: a voicemail reaches the collector, who may
    // leave only the limited-content message (no debt, no creditor), or nothing.
    shown.append(el("p", { id: "voicemail-message", class: "muted" }, d.voicemail_message
      ? "If a voicemail answers, leave only: “" + d.voicemail_message + "”"
      : "If a voicemail answers, leave no message (the creditor has no callback number)."));
  } catch (e) {
    showError(shown, e);
    shown.dataset.outcome = "refused";
    if (e.body && e.body.reasons) shown.dataset.reasons = e.body.reasons.join(",");
  }
}

(async () => {
  await startPage();
  let d;
  try {
    d = await api("/api/desk");
  } catch (e) {
    showError($("#message"), e);
    return;
  }
  $("#pause-reason").replaceChildren(...d.pause_reasons.filter((r) => r !== "no_answer").map((r) => el("option", {}, r)));
  $("#wrap-form [name=disposition]").replaceChildren(...d.dispositions.map((x) => el("option", {}, x)));
  $("#wrap-flags").append(...d.flags.map((x) => el("label", {}, el("input", { type: "checkbox", name: "flags", value: x }), " " + x)));
  $("#ready").addEventListener("click", () => choose("ready"));
  $("#pause").addEventListener("click", () => choose("paused"));
  $("#offline").addEventListener("click", () => choose("offline"));
  $("#hangup").addEventListener("click", () => session && session.terminate());
  $("#wrap-form").addEventListener("submit", wrapUp);
  $("#worklist-refresh").addEventListener("click", loadWorklist);
  loadWorklist();
  if (d.phone) startPhone(d.phone);
  else message("No desk phone yet: a supervisor makes one with `duncall collectors phone ID`.", true);
  render(d);
  poll();
})();
