// stylecam's page: the camera here, the network on the server (protocol: stylecam/serve/protocol.py).
// Frames go out as they come from the camera, none while the socket still holds unsent data;
// the server keeps only the newest, so latency stays one frame and a slow link drops frames.
"use strict";

const FRAME = 1, UPLOAD = 2;
const MAX_IN_FLIGHT = 8;          // a bound only: the server answers the newest and drops the rest
const SERVER_KEYS = new Set("npctbsmlg+-123456789".split("").concat(["left", "right"]));
const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.search).get("token");
const query = token ? "?token=" + encodeURIComponent(token) : "";

const shown = $("shown"), ctx = shown.getContext("2d");
const grab = document.createElement("canvas"), grabCtx = grab.getContext("2d");
const video = $("camera");
let ws = null, hello = null, hud = null, paused = false, hudOn = true, recorder = null, recordStart = 0;
let nextId = 1, lastAnswered = 0, lastShownAt = 0, messageUntil = 0;
const sentAt = new Map();                 // frame id -> performance.now() when the camera frame was grabbed
const stats = { frames: 0, intervals: [], latencies: [], errors: [], messages: [], sent: 0, hud: null };
window.stylecam = { stats, snapshot, send: (obj) => ws.send(JSON.stringify(obj)), upload };

// -- the figures ------------------------------------------------------------------------------
function median(xs) {
  if (!xs.length) return 0;
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
function keep(list, value, n = 300) { list.push(value); if (list.length > n) list.shift(); }
function fps() { const recent = stats.intervals.slice(-30); return recent.length ? 1000 / median(recent) : 0; }

function say(text, error = false) {
  const m = $("message");
  m.textContent = text;
  m.className = error ? "error" : "";
  messageUntil = performance.now() + (error ? 10000 : 4000);
  (error ? stats.errors : stats.messages).push(text);
}

function drawHud() {
  if (performance.now() > messageUntil) $("message").textContent = "";
  const el = $("hud");
  el.hidden = !hudOn || !hud;
  if (el.hidden) return;
  const flags = [];
  if (recorder) flags.push(`REC ${clock((performance.now() - recordStart) / 1000)}`);
  for (const t of hello.toggles) if (hud.state[t.field]) flags.push(t.label);
  if (paused) flags.push("PAUSED");
  el.innerHTML = "";
  const lines = [`style: ${hud.style}   α ${hud.alpha.toFixed(2)}`,
                 `${hud.model} network | ${hud.backend}`,
                 `${fps().toFixed(1)} fps   latency ${median(stats.latencies.slice(-30)).toFixed(0)} ms` +
                 `   (server ${hud.server_ms.toFixed(0)} ms)`];
  for (const line of lines) el.append(line + "\n");
  if (flags.length) {
    const span = document.createElement("span");
    span.className = recorder ? "rec" : "";
    span.textContent = flags.join("  ");
    el.append(span);
  }
}
function clock(s) { return `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}`; }

// -- the camera and the frames out ------------------------------------------------------------
async function startCamera() {
  if (!navigator.mediaDevices) {
    say("the browser allows the camera only on https or on localhost: open the page through an SSH tunnel " +
        "(ssh -L 8765:127.0.0.1:8765 host) or a TLS proxy", true);
    return;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    video.srcObject = stream;
    await video.play();
  } catch (e) {
    say(`camera not available: ${e.name}: ${e.message}`, true);
    return;
  }
  const next = () => video.requestVideoFrameCallback ? video.requestVideoFrameCallback(onCameraFrame)
                                                      : setTimeout(onCameraFrame, 33);
  function onCameraFrame() { sendFrame(); next(); }
  next();
}

function sendFrame() {
  if (!ws || ws.readyState !== WebSocket.OPEN || !hello || paused || ws.bufferedAmount > 0) return;
  if (nextId - 1 - lastAnswered >= MAX_IN_FLIGHT || !video.videoWidth) return;
  const side = hello.size || Math.max(video.videoWidth, video.videoHeight);
  const scale = Math.min(1, side / Math.max(video.videoWidth, video.videoHeight));
  grab.width = Math.round(video.videoWidth * scale);
  grab.height = Math.round(video.videoHeight * scale);
  grabCtx.drawImage(video, 0, 0, grab.width, grab.height);
  const id = nextId++, t = performance.now();
  grab.toBlob(async (blob) => {
    const body = await blob.arrayBuffer();
    const msg = new Uint8Array(5 + body.byteLength);
    new DataView(msg.buffer).setUint8(0, FRAME);
    new DataView(msg.buffer).setUint32(1, id, true);
    msg.set(new Uint8Array(body), 5);
    if (ws.readyState !== WebSocket.OPEN) return;
    sentAt.set(id, t);
    ws.send(msg);
    stats.sent++;
  }, "image/jpeg", 0.85);
}

// -- the server -------------------------------------------------------------------------------
function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  ws = new WebSocket(`${scheme}//${location.host}/ws${query}`);
  ws.binaryType = "arraybuffer";
  let opened = false;
  ws.onopen = () => { opened = true; };
  ws.onmessage = (e) => typeof e.data === "string" ? onJson(JSON.parse(e.data)) : onFrame(e.data);
  ws.onclose = async (e) => {
    if (opened) { say(`disconnected from the server (${e.code}${e.reason ? ": " + e.reason : ""}); reload to reconnect`, true); return; }
    try {     // the handshake was refused: the same request as plain HTTP says why
      const r = await fetch(`/ws${query}`);
      say(r.status === 403 || r.status === 503 ? (await r.text()).trim() : "the server refused the connection", true);
    } catch (_) { say("cannot reach the server: is `stylecam serve` running?", true); }
  };
}

async function onFrame(data) {
  const id = new DataView(data).getUint32(1, true);
  const bitmap = await createImageBitmap(new Blob([data.slice(5)], { type: "image/jpeg" }));
  if (shown.width !== bitmap.width || shown.height !== bitmap.height) {
    shown.width = bitmap.width; shown.height = bitmap.height;
  }
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const now = performance.now();
  if (sentAt.has(id)) keep(stats.latencies, now - sentAt.get(id));
  for (const k of sentAt.keys()) if (k <= id) sentAt.delete(k);
  lastAnswered = Math.max(lastAnswered, id);
  if (lastShownAt) keep(stats.intervals, now - lastShownAt);
  lastShownAt = now;
  stats.frames++;
  drawHud();
}

function onJson(msg) {
  if (msg.type === "hello") { hello = msg; buildControls(); }
  else if (msg.type === "hud") { onHud(msg); }
  else if (msg.type === "style_added") {
    uploads[msg.index - hello.thumbs] = pending.get(msg.name);
    say(`your painting ${msg.name} is ready`);
    send({ set: { style: msg.index } });
  }
  else if (msg.type === "error") { say(msg.text, true); }
}

function onHud(msg) {
  hud = stats.hud = msg;
  for (const text of msg.messages) say(text);
  if (msg.styles) buildStyles(msg.styles);
  if (document.activeElement !== $("alpha")) { $("alpha").value = msg.alpha; }
  $("alpha-value").textContent = msg.alpha.toFixed(2);
  for (const t of hello.toggles) $("toggle-" + t.field).checked = msg.state[t.field];
  $("model").value = msg.state.model;
  const buttons = $("styles").children, n = buttons.length;
  for (let i = 0; i < n; i++) {
    buttons[i].classList.toggle("on", i === msg.style_index);
    buttons[i].classList.toggle("partner", msg.state.blend && n > 1 && i === (msg.style_index + 1) % n);
  }
  drawHud();
}

function send(obj) { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj)); }

// -- the controls -----------------------------------------------------------------------------
const uploads = [];        // object URLs of the user's paintings the server took, shown as their thumbnails
const pending = new Map();  // file name -> object URL, until the server says it took the painting

function buildControls() {
  const box = $("toggles");
  box.innerHTML = "";
  for (const t of hello.toggles) {      // from the server's list: a new toggle needs no change here
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox"; input.id = "toggle-" + t.field;
    input.onchange = () => send({ set: { [t.field]: input.checked } });
    label.append(input, ` ${t.label} (${t.key})`);
    box.append(label);
  }
  $("model").innerHTML = hello.models.map((m) => `<option value="${m}">${m}</option>`).join("");
  $("help").textContent = "keys\n" + hello.help.map(([k, what]) => `${k.padEnd(18)} ${what}`).join("\n") +
    "\n(page only: k screenshot (PNG), r recording (WebM), space pause, f HUD)";
  buildStyles(hello.styles);
}

function buildStyles(names) {
  const box = $("styles");
  box.innerHTML = "";
  names.forEach((name, i) => {
    const b = document.createElement("button");
    const img = document.createElement("img");
    img.loading = "lazy"; img.alt = name;
    img.src = i < hello.thumbs ? `thumb/${i}.jpg${query}` : (uploads[i - hello.thumbs] || "");
    b.title = name;
    b.append(img, name);
    b.onclick = () => send({ set: { style: i } });
    box.append(b);
  });
}

async function upload(file) {
  if (!file) return;
  if (file.size > hello.max_upload) {
    say(`${file.name}: ${(file.size / 1e6).toFixed(1)} MB; uploads are limited to ${(hello.max_upload / 1e6).toFixed(0)} MB`, true);
    return;
  }
  const name = new TextEncoder().encode(file.name).slice(0, 512);
  const body = new Uint8Array(await file.arrayBuffer());
  const msg = new Uint8Array(3 + name.length + body.length);
  const view = new DataView(msg.buffer);
  view.setUint8(0, UPLOAD); view.setUint16(1, name.length, true);
  msg.set(name, 3); msg.set(body, 3 + name.length);
  pending.set(file.name, URL.createObjectURL(file));
  say(`reading ${file.name}...`);
  ws.send(msg);
}

function download(blob, ext) {
  const a = document.createElement("a");
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  a.href = URL.createObjectURL(blob);
  a.download = `stylecam-${stamp}.${ext}`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

function screenshot() {
  shown.toBlob((blob) => { download(blob, "png"); say(`screenshot saved (${shown.width}×${shown.height} PNG)`); }, "image/png");
}

function toggleRecording() {
  if (recorder) { recorder.stop(); return; }
  const type = ["video/webm;codecs=vp9", "video/webm;codecs=vp8", "video/webm"].find((t) => MediaRecorder.isTypeSupported(t));
  const chunks = [];
  recorder = new MediaRecorder(shown.captureStream(30), type ? { mimeType: type } : {});
  recorder.ondataavailable = (e) => e.data.size && chunks.push(e.data);
  recorder.onstop = () => { download(new Blob(chunks, { type: "video/webm" }), "webm"); recorder = null; say("recording saved (WebM)"); $("record").classList.remove("on"); };
  recorder.start(1000);
  recordStart = performance.now();
  $("record").classList.add("on");
}

function togglePause() { paused = !paused; $("pause").classList.toggle("on", paused); drawHud(); }
function toggleHelp() { $("help").hidden = !$("help").hidden; }

// the live window's keys; the ones about the picture go to the server, the rest stay here
const NAMED = { ArrowRight: "right", ArrowLeft: "left", "=": "+", "_": "-", " ": "space", Escape: "esc" };
document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.target.type === "range" && e.key.startsWith("Arrow")) return;
  const key = NAMED[e.key] || e.key.toLowerCase();
  const local = { space: togglePause, f: () => { hudOn = !hudOn; drawHud(); }, k: screenshot, r: toggleRecording,
                  h: toggleHelp, esc: () => { $("help").hidden = true; } };
  if (local[key]) local[key]();
  else if (SERVER_KEYS.has(key)) send({ key });
  else return;
  e.preventDefault();
});
$("alpha").oninput = () => send({ set: { alpha: Number($("alpha").value) } });
$("model").onchange = () => send({ set: { model: $("model").value } });
$("upload").onchange = () => { upload($("upload").files[0]); $("upload").value = ""; };
$("shot").onclick = screenshot;
$("record").onclick = toggleRecording;
$("pause").onclick = togglePause;
$("help-button").onclick = toggleHelp;
setInterval(drawHud, 500);

// for tests and benchmarks: the picture shown and the camera frame last sent, as PNG data URLs
function snapshot() { return { shown: shown.toDataURL("image/png"), camera: grab.toDataURL("image/png") }; }

connect();
startCamera();
