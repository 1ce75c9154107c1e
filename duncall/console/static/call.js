// The call page: metadata, flags, the recording with the current turn highlighted as it plays,
// the path through the script, guard decisions, and the QA scoring form.
"use strict";

const $ = (sel) => document.querySelector(sel);
const fmtS = (s) => (s === null || s === undefined ? "" : s.toFixed(1) + " s");

function currentTurn(turns, t) {
  // The turn being said at t: the last one started at or before t, if it has not ended long ago.
  let found = null;
  for (const turn of turns) {
    if (turn.started_s <= t) found = turn;
    else break;
  }
  if (found && found.ended_s !== null && t > found.ended_s + 1.0) return null; // a pause between turns
  return found;
}

function followPlayback(player, turns) {
  const rows = new Map([...document.querySelectorAll("#transcript tbody tr")].map((r) => [Number(r.dataset.seq), r]));
  let shown = null;
  const update = () => {
    const turn = currentTurn(turns, player.currentTime);
    const seq = turn ? turn.seq : null;
    if (seq === shown) return;
    if (shown !== null && rows.has(shown)) rows.get(shown).classList.remove("playing");
    shown = seq;
    $("#now-playing").textContent = turn ? `turn ${turn.seq} (${turn.speaker}) at ${fmtS(player.currentTime)}` : "";
    if (seq !== null && rows.has(seq)) {
      rows.get(seq).classList.add("playing");
      rows.get(seq).scrollIntoView({ block: "nearest" });
    }
  };
  player.addEventListener("timeupdate", update);
  player.addEventListener("seeked", update);
  for (const [seq, row] of rows) {
    const turn = turns.find((t) => t.seq === seq);
    row.classList.add("seekable");
    row.title = "Play from here";
    row.addEventListener("click", () => {
      player.currentTime = turn.started_s;
      player.play().catch(() => {}); // autoplay may be refused; the position is set either way
      update();
    });
  }
}

function renderRecording(c) {
  const box = $("#recording");
  if (!c.recording_url) {
    box.replaceChildren(el("p", { class: "muted" }, "No recording: the call was not answered or not recorded."));
    return null;
  }
  const player = el("audio", { id: "player", controls: "", preload: "auto", src: c.recording_url });
  const status = el("span", { id: "now-playing", class: "muted" });
  player.addEventListener("error", async () => {
    // The element says only "error": ask the API what is wrong, for a message a person can act on.
    try {
      await api(c.recording_url, { headers: { Range: "bytes=0-0" } });
    } catch (err) {
      showError(status, err);
      return;
    }
    status.textContent = "the browser cannot play this recording";
    status.className = "error";
  });
  box.replaceChildren(player, " ", status);
  return player;
}

function renderPath(path) {
  const list = $("#path");
  if (!path.length) {
    list.replaceChildren(el("li", { class: "muted" }, "no dialogue states recorded"));
    return;
  }
  list.replaceChildren(...path.map((state, i) => el("li", { "data-state": state, "data-step": i }, state)));
}

function renderScores(scores) {
  $("#scores tbody").replaceChildren(...scores.map((s) => el("tr", { "data-reviewer": s.reviewer },
    el("td", {}, s.reviewer), el("td", {}, fmtTime(s.scored_at)),
    el("td", {}, s.failed ? el("span", { class: "flag" }, "failed") : "", ` ${s.score.toFixed(1)}`),
    el("td", {}, s.failed_items.join(", ")), el("td", {}, s.comment),
    el("td", { class: "muted" }, `${s.form} v${s.form_version}`))));
  if (!scores.length) $("#scores tbody").replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "not scored yet")));
}

function renderForm(form, mine, attemptId, onSaved) {
  const box = $("#score-form");
  const answers = mine && mine.form === form.form && mine.form_version === form.version ? mine.answers : {};
  const sections = form.sections.map((section) => el("fieldset", { "data-section": section.id },
    el("legend", {}, section.title),
    section.questions.map((q) => el("div", { class: "question", "data-question": q.id },
      el("span", { class: "qtext" }, q.text, q.fail_all ? el("span", { class: "flag", title: "answered no, it fails the call" }, "fail-all") : "",
        el("span", { class: "muted" }, ` (${q.weight})`)),
      ["yes", "no", ...(q.na ? ["na"] : [])].map((value) => el("label", {},
        el("input", Object.assign({ type: "radio", name: q.id, value }, answers[q.id] === value ? { checked: "" } : {})),
        value === "na" ? "n/a" : value))))));
  const comment = el("textarea", { name: "comment", rows: 2, cols: 60, maxlength: 4000, placeholder: "comment (optional)" });
  comment.value = mine ? mine.comment : "";
  const status = el("span", { id: "score-status" });
  const formEl = el("form", { id: "qa-score" }, el("h3", {}, `${form.title} (v${form.version})`), sections,
    el("div", {}, comment), el("button", { type: "submit" }, mine ? "Update my score" : "Save my score"), " ", status);
  formEl.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = new FormData(formEl);
    const given = {};
    for (const q of form.sections.flatMap((s) => s.questions)) if (data.get(q.id)) given[q.id] = data.get(q.id);
    try {
      const saved = await api(`/api/calls/${encodeURIComponent(attemptId)}/scores/mine`,
        { method: "PUT", json: { answers: given, comment: data.get("comment") || "" } });
      status.textContent = saved.failed ? `saved: failed (${saved.failed_items.join(", ")}), score 0` : `saved: score ${saved.score.toFixed(1)}`;
      status.className = saved.failed ? "error" : "ok";
      onSaved();
    } catch (err) { showError(status, err); }
  });
  box.replaceChildren(formEl);
}

(async () => {
  const me = await startPage();
  const id = decodeURIComponent(location.pathname.split("/").pop());
  const load = async () => {
    const c = await api("/api/calls/" + encodeURIComponent(id));
    renderScores(c.scores);
    $("#score-summary").textContent = c.qa_reviews ? `average ${c.qa_score.toFixed(1)} over ${c.qa_reviews} review(s)${c.qa_failed ? ", failed by at least one" : ""}` : "";
    return c;
  };
  try {
    const c = await load();
    $("#title").textContent = `Call ${c.attempt_id}`;
    const version = c.script_version === null ? "" : (c.script_version === 0 ? " (file, unsaved)" : ` v${c.script_version}`);
    const meta = [["When (UTC)", fmtTime(c.at)], ["Campaign", c.campaign], ["Debtor", c.debtor], ["Number", c.number],
      ["Script", (c.script || "") + version], ["Outcome", c.outcome], ["Disposition", c.disposition],
      ["Length", c.duration_s === null ? "" : c.duration_s + " s"],
      ["Recording", c.record ? c.record.recording : ""], ["Hung up by", c.record ? c.record.hangup_by : ""]];
    $("#meta").replaceChildren(...meta.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v ?? ""))));
    const flagged = new Map();
    for (const f of c.qa_flags) flagged.set(f.seq, [...new Set([...(flagged.get(f.seq) || []), f.kind])]);
    $("#flags").replaceChildren(...(c.qa_flags.length ? c.qa_flags.map((f) =>
      el("li", { "data-kind": f.kind }, el("span", { class: "flag" }, f.kind), ` turn ${f.seq}: ${f.message}`))
      : [el("li", { class: "ok" }, "none")]));
    $("#transcript tbody").replaceChildren(...c.transcript.map((t) => el("tr",
      { class: "turn-" + t.speaker, "data-seq": t.seq },
      el("td", {}, t.seq), el("td", {}, fmtS(t.started_s)), el("td", {}, fmtS(t.ended_s)),
      el("td", { "data-speaker": t.speaker }, t.speaker === "agent" ? "collector" : t.speaker), el("td", {}, t.text, (flagged.get(t.seq) || []).map((kind) => el("span", { class: "flag" }, kind))),
      el("td", {}, t.intent ? `${t.intent} (${(t.intent_confidence ?? 0).toFixed(2)})` : ""),
      el("td", {}, t.asr_confidence === null ? "" : t.asr_confidence.toFixed(2)),
      el("td", {}, t.latency_ms === null ? "" : Math.round(t.latency_ms) + " ms"))));
    const player = renderRecording(c);
    if (player) followPlayback(player, c.transcript);
    renderPath(c.path);
    $("#guards tbody").replaceChildren(...c.guard_decisions.map((g) => el("tr", {},
      el("td", {}, fmtTime(g.at)), el("td", {}, g.allowed ? "yes" : "no"), el("td", {}, g.reasons.join(", ")),
      el("td", {}, g.rules), el("td", {}, g.phone))));
    if (me.permissions.includes("calls_score")) {
      const form = await api("/api/calls/qa-form");
      const mine = () => c.scores.find((s) => s.reviewer === me.name) || null;
      renderForm(form, mine(), c.attempt_id, async () => { c.scores = (await load()).scores; });
    }
  } catch (err) { showError($("#message"), err); }
})();
