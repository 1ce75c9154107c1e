// The account page: who, what is owed, numbers, flags, promises, plans and every attempt.
// Names and numbers arrive masked from the API for roles without pii_read; the forms are
// shown only to roles with accounts_edit (the API checks both again).
"use strict";

const FLAGS = ["dispute", "cease_contact", "attorney", "bankruptcy", "deceased", "do_not_call"];
const $ = (sel) => document.querySelector(sel);
const currentId = () => decodeURIComponent(location.pathname.replace(/^\/accounts\/?/, ""));

function rows(target, items, cells) {
  $(target + " tbody").replaceChildren(...items.map((item) => el("tr", {}, cells(item).map((c) => el("td", {}, c)))));
}

function render(p) {
  const a = p.account;
  const name = [a.first_name, a.last_name].filter(Boolean).join(" ");
  $("#title").textContent = `Account ${a.id}`;
  $("#identity").replaceChildren(...[
    ["Name", name + (p.masked ? " (masked)" : "")], ["Creditor", p.creditor || "—"],
    ["Balance", `${a.balance} ${a.currency}`], ["Due", a.due_date || ""],
    ["Days past due", a.days_past_due ?? ""], ["Product", a.product || ""],
    ["Risk segment", a.risk_segment || ""], ["Language", a.language], ["Time zone", a.timezone],
  ].map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", { "data-field": k }, v))));
  rows("#phones", p.phones, (ph) => [ph.number, [ph.status === "active" ? ph.status : el("span", { class: "flag" }, ph.status),
    ...(ph.sms_unreachable ? [" ", el("span", { class: "flag", title: `${ph.sms_failures} SMS failed in a row` }, "sms unreachable")] : [])],
    ph.phone_type, ph.contact_type, ph.consent ? "yes" : "no", fmtTime(ph.set_at), ph.by || "", ph.reason || ""]);
  rows("#flags", p.flags, (f) => [el("span", { class: "flag" }, f.name), fmtTime(f.set_at), f.by || "", f.reason || "", f.source]);
  rows("#promises", p.promises, (pr) => [fmtTime(pr.made_at), `${pr.amount} ${pr.currency}`, pr.due, pr.status,
    pr.channel || "", pr.stage || ""]);
  $("#plans").replaceChildren(...(p.plans.length ? p.plans.map((pl) => el("div", { class: "plan" },
    el("p", {}, `${pl.total} ${pl.currency}, ${pl.status}, made ${fmtTime(pl.made_at)}`),
    el("table", {}, el("tr", {}, ["#", "Due", "Amount", "Status"].map((h) => el("th", {}, h))),
      pl.instalments.map((i) => el("tr", {}, [i.seq, i.due, i.amount, i.status].map((c) => el("td", {}, c)))))))
    : [el("p", { class: "muted" }, "No plans.")]));
  $("#payments").replaceChildren(p.payments.length
    ? el("table", {}, p.payments.map((pay) => el("tr", {}, Object.values(pay).map((v) => el("td", {}, v)))))
    : el("p", { class: "muted" }, "No payments recorded."));
  rows("#notes", p.notes || [], (n) => [fmtTime(n.at), n.author, n.text,
    n.attempt_id ? el("a", { href: "/calls/" + encodeURIComponent(n.attempt_id) }, "call") : ""]);
  rows("#timeline", p.timeline, (e) => [fmtTime(e.at), e.channel, e.kind, e.number, e.outcome || "", e.disposition || "",
    e.reasons.map((r) => el("span", { class: "flag" }, r)),
    e.kind === "denied" || e.channel !== "call" ? "" : [el("a", { href: "/calls/" + encodeURIComponent(e.attempt_id) }, "transcript"), " · ",
      el("a", { href: "/calls/" + encodeURIComponent(e.attempt_id) + "#recording" }, "recording")]]);
  const numbers = $("#phone-form select[name=number]");  // absent for roles that may not edit
  if (numbers) numbers.replaceChildren(...p.phones.map((ph) => el("option", {}, ph.number)));
  $("#page").hidden = false;
}

async function load(id) {
  const msg = $("#message");
  try {
    render(await api("/api/accounts/" + encodeURIComponent(id)));
    msg.textContent = "";
    msg.className = "";
  } catch (err) {
    $("#page").hidden = true;
    showError(msg, err);
  }
}

async function change(path, method, body) {
  const msg = $("#edit-message");
  try {
    render(await api(path, { method, json: body }));
    msg.textContent = "saved";
    msg.className = "ok";
    return true;
  } catch (err) { showError(msg, err); return false; }
}

$("#find").addEventListener("submit", (e) => {
  e.preventDefault();
  const id = new FormData(e.target).get("account").trim();
  if (id) location.href = "/accounts/" + encodeURIComponent(id);
});

$("#flag-form")?.addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const clear = e.submitter && e.submitter.value === "clear";
  const path = `/api/accounts/${encodeURIComponent(currentId())}/flags/${encodeURIComponent(f.get("flag"))}`;
  if (await change(path, clear ? "DELETE" : "PUT", { reason: f.get("reason") })) e.target.reset();
});

$("#phone-form")?.addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const path = `/api/accounts/${encodeURIComponent(currentId())}/phones/${encodeURIComponent(f.get("number"))}`;
  if (await change(path, "PUT", { status: f.get("status"), reason: f.get("reason") })) e.target.reset();
});

startPage().then((me) => {
  $("#flag-form select[name=flag]").replaceChildren(...FLAGS.map((f) => el("option", {}, f)));
  if (me.permissions.includes("accounts_edit")) $("#edit").hidden = false;
  else $("#edit").remove();  // not merely hidden: a role that may not change the account gets no forms
  const id = currentId();
  $("#find input[name=account]").value = id;
  if (id) load(id);
});
