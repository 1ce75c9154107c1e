// Shared by every console page: API calls, the login redirect, the navigation bar.
"use strict";

const NAV = [
  ["/calls", "Calls", "calls_read"],
  ["/scripts", "Scripts", "scripts_read"],
  ["/live", "Live", "live_read"],
  ["/dashboard", "KPIs", "kpi_read"],
  ["/desk", "Desk", "desk_work"],
  ["/admin", "Admin", "audit_read"],
];

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.error ? body.error : `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

async function api(path, options = {}) {
  const init = { credentials: "same-origin", ...options };
  // Every state change from a logged-in page carries this header; another origin's page cannot
  // add it (hardening.py), so it cannot make the browser act with this session.
  init.headers = { ...(options.headers || {}), "X-Duncall-Request": "1" };
  if (options.json !== undefined) {
    init.method = init.method || "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.json);
  }
  const response = await fetch(path, init);
  if (response.status === 401 && !path.startsWith("/api/auth/login")) {
    location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
    throw new ApiError(401, { error: "not logged in" });
  }
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(response.status, typeof body === "object" ? body : { error: body });
  return body;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function showError(target, error) {
  target.textContent = error.message + (error.body && error.body.fix ? " — " + error.body.fix : "");
  target.className = "error";
}

async function startPage() {
  const me = await api("/api/auth/me");
  const nav = el("nav", {},
    el("strong", {}, "duncall"),
    NAV.filter(([, , perm]) => me.permissions.includes(perm)).map(([href, label]) =>
      el("a", { href, class: location.pathname.startsWith(href) ? "here" : "" }, label)),
    el("span", { class: "who", "data-role": me.role }, `${me.name} (${me.role})`),
    el("a", { href: "#", id: "logout", onclick: async (e) => {
      e.preventDefault();
      // Pages with live sockets see them close on logout: they must not navigate too.
      window.duncallLeaving = true;
      await api("/api/auth/logout", { method: "POST" });
      location.href = "/login";
    } }, "Log out"));
  document.body.prepend(nav);
  return me;
}

function fmtTime(iso) {
  if (!iso) return "";
  // The store keeps UTC; SQLite hands it back without an offset.
  const utc = /[zZ]|[+-]\d\d:\d\d$/.test(iso) ? iso : iso + "Z";
  return new Date(utc).toISOString().replace("T", " ").slice(0, 19);
}
