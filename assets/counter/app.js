// Counter terminal (窗口): log in with the terminal's client credentials (token kept in sessionStorage only),
// scan with the camera (BarcodeDetector where the browser has it, the bundled jsQR otherwise), an uploaded
// image or pasted text; show the verdict; keep a short history on this device; attach a valid licence to a case.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const KEY = "sidian.counter.token";
  const HISTORY = "sidian.counter.history";
  let stream = null;
  let scanning = false;
  let last = null;

  function token() {
    try {
      const t = JSON.parse(sessionStorage.getItem(KEY) || "null");
      return t && t.exp > Date.now() + 5000 ? t.value : null;
    } catch { return null; }
  }
  function show() {
    const t = token();
    $("login").hidden = !!t;
    $("scan").hidden = !t;
    renderHistory();
  }
  async function api(path, body) {
    const res = await fetch(path, { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer " + token() }, body: JSON.stringify(body) });
    const json = await res.json().catch(() => ({}));
    if (res.status === 401) { sessionStorage.removeItem(KEY); show(); }
    return { ok: res.ok, status: res.status, json };
  }

  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const body = new URLSearchParams({ grant_type: "client_credentials", client_id: f.get("id"), client_secret: f.get("secret") });
    const res = await fetch("/oauth/token", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) { $("login-error").textContent = "登录失败：" + (json.code || res.status); return; }
    sessionStorage.setItem(KEY, JSON.stringify({ value: json.access_token, exp: Date.now() + json.expires_in * 1000 }));
    e.target.reset();
    show();
  });
  $("logout").addEventListener("click", () => { sessionStorage.removeItem(KEY); stop(); show(); });

  function el(tag, text, cls) { const n = document.createElement(tag); if (text !== undefined) n.textContent = text; if (cls) n.className = cls; return n; }

  async function verify(text) {
    const r = await api("/counter/verify", { code: text });
    if (!r.ok) { clearAttach(); alert("核验失败：" + (r.json.code || r.status)); return; }
    const v = r.json;
    last = v;
    $("result").hidden = false;
    const box = $("verdict");
    box.className = "verdict " + v.tone;
    box.dataset.verdict = v.code;
    box.querySelector(".sym").textContent = v.tone === "ok" ? "✓" : v.tone === "warn" ? "!" : "✗";
    $("verdict-title").textContent = v.zh + " " + v.en;
    $("verdict-note").textContent = v.note || "";
    const dl = $("facts");
    dl.replaceChildren();
    for (const [k, val] of v.facts) { dl.append(el("dt", k), el("dd", val)); }
    const ul = $("checks");
    ul.replaceChildren();
    for (const c of v.checks) ul.append(el("li", c.name + ": " + c.detail, c.status));
    $("attach-form").hidden = !(v.code === "VALID" && v.identifier);
    $("attach-out").textContent = "";
    // Only a valid licence can be attached: any other verdict clears what was typed for the previous one.
    if ($("attach-form").hidden) clearAttach();
    const h = JSON.parse(localStorage.getItem(HISTORY) || "[]");
    h.unshift({ at: new Date().toISOString(), verdict: v.zh, code: v.code, identifier: v.identifier || null, name: v.licenceName || "" });
    localStorage.setItem(HISTORY, JSON.stringify(h.slice(0, 20)));
    renderHistory();
  }
  function clearAttach() {
    $("case-no").value = "";
    $("attach-out").textContent = "";
    $("attach-form").hidden = true;
  }
  // Local time with its UTC offset, e.g. 2026-12-07 15:08:01 +08:00 (a record read on another device stays unambiguous).
  function stamp(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    const p = (n) => String(Math.abs(n)).padStart(2, "0");
    const off = -d.getTimezoneOffset();
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " + p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds()) +
      " " + (off >= 0 ? "+" : "-") + p(Math.trunc(off / 60)) + ":" + p(off % 60);
  }
  function renderHistory() {
    const ol = $("history");
    ol.replaceChildren();
    for (const x of JSON.parse(localStorage.getItem(HISTORY) || "[]")) {
      const li = el("li", stamp(x.at) + "  " + x.verdict + "  " + (x.name || "") + " " + (x.identifier || ""));
      li.title = x.at;
      ol.append(li);
    }
  }

  $("paste-form").addEventListener("submit", (e) => { e.preventDefault(); const t = $("paste").value.trim(); if (t) verify(t); });
  $("attach-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!last || !last.identifier) return;
    const caseNo = $("case-no").value.trim();
    const r = await api("/counter/cases/" + encodeURIComponent(caseNo) + "/licences", { identifier: last.identifier });
    $("attach-out").textContent = r.ok ? "已关联 (log #" + r.json.logIndex + ")" : "关联失败：" + (r.json.code || r.status);
  });

  const hasDetector = "BarcodeDetector" in window;
  $("decoder").textContent = hasDetector ? "解码：浏览器内置 BarcodeDetector" : "解码：内置 jsQR";
  async function decodeBitmap(source, w, h) {
    if (hasDetector) {
      try {
        const found = await new window.BarcodeDetector({ formats: ["qr_code"] }).detect(source);
        if (found.length) return found[0].rawValue;
      } catch { /* fall back to jsQR */ }
    }
    const c = $("canvas");
    c.width = w; c.height = h;
    const ctx = c.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(source, 0, 0, w, h);
    const img = ctx.getImageData(0, 0, w, h);
    const r = window.jsQR(img.data, w, h);
    return r ? r.data : null;
  }
  $("file").addEventListener("change", async (e) => {
    const f = e.target.files[0];
    if (!f) return;
    const bmp = await createImageBitmap(f);
    const text = await decodeBitmap(bmp, bmp.width, bmp.height);
    e.target.value = "";
    if (text) verify(text); else alert("未识别到二维码");
  });
  async function loop() {
    const v = $("video");
    if (!scanning) return;
    if (v.readyState >= 2) {
      const text = await decodeBitmap(v, v.videoWidth, v.videoHeight);
      if (text) { stop(); verify(text); return; }
    }
    requestAnimationFrame(loop);
  }
  function stop() {
    scanning = false;
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    $("video").hidden = true; $("stop").hidden = true;
  }
  $("stop").addEventListener("click", stop);
  $("camera").addEventListener("click", async () => {
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    } catch (err) { alert("无法打开摄像头：" + err.message); return; }
    const v = $("video");
    v.srcObject = stream; v.hidden = false; $("stop").hidden = false;
    await v.play();
    scanning = true;
    loop();
  });
  show();
})();
