// The live board's softphone: a supervisor listens, whispers or barges from the browser.
// Starting a supervision rings the supervisor's own endpoint (PJSIP/supervisor-<user>); when
// that is this page's phone (duncall supervisors phone USER), the page answers the console's
// call by itself — only while one of its own supervision requests is in flight, anything else
// is refused. The SIP password comes from GET /api/live/phone over the logged-in session and
// is never logged.
"use strict";

// What a test can read about the audio (the console's analyser on what the supervisor hears).
window.livePhone = { registered: false, call: "none", maxRms: 0, heardAt: null };

const phoneState = { session: null, audioCtx: null };

function phoneShown(text, on) {
  const p = document.getElementById("phone");
  p.textContent = text;
  p.dataset.phone = on ? "on" : "off";
}

function phoneCall(what) {
  window.livePhone.call = what;
  document.getElementById("phone-call").textContent = what === "none" ? "" : what;
  document.getElementById("phone-call").dataset.call = what;
}

function phoneListen(stream) {
  // The remote stream plays through the <audio> element (without one, WebAudio reads silence).
  const audio = document.getElementById("remote");
  audio.srcObject = stream;
  audio.play().catch(() => {});
  phoneState.audioCtx = phoneState.audioCtx || new AudioContext();
  const analyser = phoneState.audioCtx.createAnalyser();
  analyser.fftSize = 2048;
  phoneState.audioCtx.createMediaStreamSource(stream).connect(analyser);
  const buf = new Float32Array(analyser.fftSize);
  const tick = () => {
    if (!phoneState.session) return;
    analyser.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const v of buf) sum += v * v;
    const rms = Math.sqrt(sum / buf.length);
    window.livePhone.maxRms = Math.max(window.livePhone.maxRms, rms);
    if (rms > 0.01 && window.livePhone.heardAt === null) window.livePhone.heardAt = Date.now();
    requestAnimationFrame(tick);
  };
  tick();
}

function startLivePhone(phone) {
  const ua = new JsSIP.UA({
    sockets: [new JsSIP.WebSocketInterface(phone.ws_url)],
    uri: phone.uri,
    password: phone.password,
    register: true,
    session_timers: false,
  });
  const shown = (registered, text) => {
    window.livePhone.registered = registered;
    phoneShown("phone " + text, registered);
  };
  ua.on("registered", () => shown(true, "registered"));
  ua.on("unregistered", () => shown(false, "not registered"));
  ua.on("registrationFailed", (e) => shown(false, "registration failed: " + e.cause));
  ua.on("disconnected", () => shown(false, "PBX unreachable, retrying"));
  ua.on("newRTCSession", ({ session: s, originator }) => {
    if (originator !== "remote") return;
    // Only the console's call for a supervision this page asked for.
    if (phoneState.session || live.busy.size === 0) {
      s.terminate({ status_code: 486 });
      return;
    }
    phoneState.session = s;
    window.livePhone.maxRms = 0;
    window.livePhone.heardAt = null;
    s.on("peerconnection", ({ peerconnection: pc }) =>
      pc.addEventListener("track", (e) => phoneListen(e.streams[0])));
    s.on("confirmed", () => phoneCall("on call"));
    const ended = () => { phoneState.session = null; phoneCall("none"); };
    s.on("ended", ended);
    s.on("failed", ended);
    phoneCall("answering");
    s.answer({ mediaConstraints: { audio: true, video: false }, pcConfig: { iceServers: [] } });
  });
  ua.start();
  window.addEventListener("beforeunload", () => ua.stop());
}

(async () => {
  let phone;
  try {
    phone = await api("/api/live/phone");
  } catch (e) {
    // 403: this role does not supervise; 404: no browser phone (the desk phone of a supervisor is rung instead).
    phoneShown(e.status === 404 ? "no browser phone: supervision rings your desk phone" : "", false);
    return;
  }
  startLivePhone(phone);
})();
