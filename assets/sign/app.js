// The signer's page (/sign/:requestId) and the holder's signing page (/sign).
// Log in with a holder token from the identity provider (handed back in the URL fragment, never sent to the server
// in a URL, or pasted), kept in sessionStorage only. The document is rendered with the PDF.js Sidian serves itself
// (/sign/pdfjs/…). The handwritten signature is kept as vector strokes; a cloud signature is confirmed with a passkey
// (WebAuthn) whose challenge the server binds to this request and this document's hash.
const KEY = "sidian.holder.token";
const SAVED = "sidian.sign.savedMark";
const LANG = "sidian.lang";
const $ = (id) => document.getElementById(id);

const T = {
  zh: {
    brand: "四电 · 电子签名", otherLang: "English", logout: "退出", loginTitle: "登录",
    loginHelp: "请通过统一身份认证登录后回到本页；也可以粘贴身份认证平台签发的令牌。", tokenLabel: "身份令牌", loginButton: "登录",
    homeTitle: "待我签署", nothingWaiting: "没有待签署的文件。", signedTitle: "我签署过的", passkeysTitle: "我的通行密钥",
    passkeysHelp: "云签名需要通行密钥（指纹、面容或设备密码）确认；密钥只在您的设备上。", registerPasskey: "添加通行密钥",
    participantsTitle: "签署方", documentTitle: "文件", documentHelp: "请阅读全部内容。蓝框是您签名的位置。",
    drawTitle: "手写签名", drawHelp: "在框内用手指或鼠标书写您的姓名。", clear: "清除", useSaved: "使用已保存的签名", saveMark: "在本设备保存此签名",
    needPasskey: "签署前请先添加通行密钥。", signButton: "确认签署", declineTitle: "拒绝签署", declineReason: "拒绝理由", declineButton: "拒绝签署",
    footer: "Sidian 四电 · 签名由您的专属证书完成，每次签署记入透明日志。",
    f_status: "状态", f_matter: "事项", f_case: "办件编号", f_initiator: "发起方", f_expires: "截止时间", f_group: "当前签署顺序", f_sha: "文件 SHA-256", f_me: "我的角色",
    st_draft: "草稿", st_in_progress: "签署中", st_completed: "已完成", st_declined: "已拒签", st_expired: "已过期", st_cancelled: "已撤销",
    ps_waiting: "等待前序", ps_pending: "待签署", ps_signed: "已签署", ps_declined: "已拒签", ps_copy: "抄送",
    role_signer: "签署人", role_approver: "审批人", role_copy: "抄送人", you: "（我）", group: "第 {n} 组",
    loading: "正在加载…", rendering: "正在显示文件…", page: "第 {n} 页", reportPage: "签署报告页（全部签署后生成）", yourBox: "我的签名",
    noPasskeys: "尚未添加通行密钥。", passkeyAdded: "已添加通行密钥。", passkeyUsed: "上次使用", never: "未使用", created: "添加于",
    drawFirst: "请先手写签名。", confirming: "请用通行密钥确认…", signing: "正在签署…",
    signedOk: "签署成功。日志序号 {i}；文件 SHA-256 {h}", declinedOk: "已拒绝签署。", notYourTurn: "还未轮到您签署。", alreadyActed: "您已处理过此文件。",
    closed: "此签署流程已结束：{s}", loggedOut: "请重新登录。", open: "打开", expires: "截止", noWebauthn: "此浏览器不支持通行密钥。",
  },
  en: {
    brand: "Sidian · E-signature", otherLang: "中文", logout: "Log out", loginTitle: "Log in",
    loginHelp: "Log in with the identity provider and come back to this page, or paste the token it issued.", tokenLabel: "Identity token", loginButton: "Log in",
    homeTitle: "Waiting for my signature", nothingWaiting: "Nothing waits for your signature.", signedTitle: "Signed by me", passkeysTitle: "My passkeys",
    passkeysHelp: "A cloud signature is confirmed with a passkey (fingerprint, face or device PIN); the passkey never leaves your device.", registerPasskey: "Add a passkey",
    participantsTitle: "Participants", documentTitle: "Document", documentHelp: "Please read all of it. The blue box is where you sign.",
    drawTitle: "Handwritten signature", drawHelp: "Write your name in the box with a finger or the mouse.", clear: "Clear", useSaved: "Use my saved signature", saveMark: "Save this signature on this device",
    needPasskey: "Add a passkey before signing.", signButton: "Sign", declineTitle: "Decline to sign", declineReason: "Reason", declineButton: "Decline",
    footer: "Sidian · signed with your own certificate; every step is in the transparency log.",
    f_status: "Status", f_matter: "Matter", f_case: "Case", f_initiator: "Initiator", f_expires: "Expires", f_group: "Group signing now", f_sha: "Document SHA-256", f_me: "My role",
    st_draft: "Draft", st_in_progress: "In progress", st_completed: "Completed", st_declined: "Declined", st_expired: "Expired", st_cancelled: "Cancelled",
    ps_waiting: "Waiting", ps_pending: "To sign", ps_signed: "Signed", ps_declined: "Declined", ps_copy: "Copy",
    role_signer: "Signer", role_approver: "Approver", role_copy: "Copy", you: " (me)", group: "group {n}",
    loading: "Loading…", rendering: "Rendering the document…", page: "Page {n}", reportPage: "Completion report page (drawn when everyone has signed)", yourBox: "My signature",
    noPasskeys: "No passkey yet.", passkeyAdded: "Passkey added.", passkeyUsed: "last used", never: "never used", created: "added",
    drawFirst: "Draw your signature first.", confirming: "Confirm with your passkey…", signing: "Signing…",
    signedOk: "Signed. Log index {i}; document SHA-256 {h}", declinedOk: "You declined to sign.", notYourTurn: "It is not your turn yet.", alreadyActed: "You have already acted on this document.",
    closed: "This request is closed: {s}", loggedOut: "Please log in again.", open: "Open", expires: "expires", noWebauthn: "This browser does not support passkeys.",
  },
};
const ERR = {
  zh: { SIGNING_REAUTH_REQUIRED: "为保护您的签名，请重新登录后再签署。", PASSKEY_REQUIRED: "请先添加通行密钥。", WEBAUTHN_ASSERTION_INVALID: "通行密钥确认无效，请重试。",
    SIGNING_DOCUMENT_CHANGED: "其他签署方刚刚签署，文件已更新，请重新确认。", SIGNING_NOT_YOUR_TURN: "还未轮到您签署。", SIGNING_ALREADY_ACTED: "您已处理过此文件。",
    SIGNING_EXPIRED: "签署已过期。", SIGNING_CANCELLED: "发起方已撤销。", SIGNING_DECLINED: "已有签署方拒签。", SIGNING_COMPLETED: "签署已完成。",
    SIGNING_REQUEST_NOT_FOUND: "找不到此签署请求（或您不是签署方）。", SIGNATURE_MARK_INVALID: "手写签名无效，请重新书写。", WEBAUTHN_REGISTRATION_INVALID: "通行密钥添加失败。",
    TOKEN_INVALID: "登录已失效，请重新登录。", AUTH_REQUIRED: "请登录。" },
  en: { SIGNING_REAUTH_REQUIRED: "To protect your signature, log in again before signing.", PASSKEY_REQUIRED: "Add a passkey first.", WEBAUTHN_ASSERTION_INVALID: "The passkey confirmation was not accepted; try again.",
    SIGNING_DOCUMENT_CHANGED: "Another participant has just signed; the document was updated, confirm again.", SIGNING_NOT_YOUR_TURN: "It is not your turn yet.", SIGNING_ALREADY_ACTED: "You have already acted on this document.",
    SIGNING_EXPIRED: "The request has expired.", SIGNING_CANCELLED: "The initiator cancelled the request.", SIGNING_DECLINED: "A participant declined.", SIGNING_COMPLETED: "The request is complete.",
    SIGNING_REQUEST_NOT_FOUND: "No such request (or you do not take part in it).", SIGNATURE_MARK_INVALID: "The drawn signature is not valid; draw it again.", WEBAUTHN_REGISTRATION_INVALID: "The passkey could not be added.",
    TOKEN_INVALID: "Your login has expired; log in again.", AUTH_REQUIRED: "Please log in." },
};

let lang = new URLSearchParams(location.search).get("lang") || localStorage.getItem(LANG) || "zh";
if (!T[lang]) lang = "zh";
const t = (k, vars) => String(T[lang][k] ?? k).replace(/\{(\w+)\}/g, (_, v) => String(vars?.[v] ?? ""));
function errText(json, status) {
  return (json && ERR[lang][json.code]) || (json && json.message) || `HTTP ${status}`;
}
function applyLang() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  for (const n of document.querySelectorAll("[data-t]")) n.textContent = t(n.dataset.t);
}

// ---------------------------------------------------------------------------------------------- login (token)

function takeTokenFromFragment() {
  if (!location.hash) return;
  const f = new URLSearchParams(location.hash.slice(1));
  const tok = f.get("token") || f.get("id_token") || f.get("access_token");
  if (tok) setToken(tok);
  history.replaceState(null, "", location.pathname + location.search);
}
function claims(tok) {
  try {
    return JSON.parse(atob(tok.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  } catch { return null; }
}
function setToken(tok) {
  const c = claims(tok.trim());
  if (!c || typeof c.exp !== "number") return false;
  sessionStorage.setItem(KEY, JSON.stringify({ value: tok.trim(), exp: c.exp * 1000 }));
  return true;
}
function token() {
  try {
    const x = JSON.parse(sessionStorage.getItem(KEY) || "null");
    return x && x.exp > Date.now() + 5000 ? x.value : null;
  } catch { return null; }
}
function logout() { sessionStorage.removeItem(KEY); route(); }

async function api(method, path, body, opts = {}) {
  const headers = { authorization: "Bearer " + token() };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (opts.raw && res.ok) return { ok: true, status: res.status, res };
  const json = await res.json().catch(() => ({}));
  if (res.status === 401) { sessionStorage.removeItem(KEY); setStatus(errText(json, 401), true); show("login"); }
  return { ok: res.ok, status: res.status, json };
}

function setStatus(msg, bad) {
  const s = $("status");
  s.textContent = msg || "";
  s.className = bad ? "error" : "";
}
function show(id) {
  for (const s of ["login", "home", "request"]) $(s).hidden = s !== id;
  $("logout").hidden = id === "login";
}
function el(tag, text, cls) {
  const n = document.createElement(tag);
  if (text !== undefined && text !== null) n.textContent = text;
  if (cls) n.className = cls;
  return n;
}
/** Beijing time, whatever the device's zone. */
function bj(iso) {
  if (!iso) return "—";
  const d = new Date(new Date(iso).getTime() + 8 * 3600_000);
  return d.toISOString().replace("T", " ").slice(0, 16) + (lang === "zh" ? "（北京时间）" : " (Beijing)");
}

// ---------------------------------------------------------------------------------------------- WebAuthn JSON

const b64uToBuf = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4)), (c) => c.charCodeAt(0)).buffer;
const bufToB64u = (b) => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

async function createPasskey(o) {
  const publicKey = {
    ...o, challenge: b64uToBuf(o.challenge), user: { ...o.user, id: b64uToBuf(o.user.id) },
    excludeCredentials: (o.excludeCredentials || []).map((c) => ({ ...c, id: b64uToBuf(c.id) })),
  };
  delete publicKey.hints;
  const cred = await navigator.credentials.create({ publicKey });
  const r = cred.response;
  return {
    id: cred.id, rawId: bufToB64u(cred.rawId), type: cred.type, authenticatorAttachment: cred.authenticatorAttachment ?? undefined,
    response: {
      clientDataJSON: bufToB64u(r.clientDataJSON), attestationObject: bufToB64u(r.attestationObject),
      transports: typeof r.getTransports === "function" ? r.getTransports() : undefined,
    },
    clientExtensionResults: cred.getClientExtensionResults(),
  };
}
async function getAssertion(o) {
  const publicKey = { ...o, challenge: b64uToBuf(o.challenge), allowCredentials: (o.allowCredentials || []).map((c) => ({ ...c, id: b64uToBuf(c.id) })) };
  delete publicKey.hints;
  const cred = await navigator.credentials.get({ publicKey });
  const r = cred.response;
  return {
    id: cred.id, rawId: bufToB64u(cred.rawId), type: cred.type, authenticatorAttachment: cred.authenticatorAttachment ?? undefined,
    response: {
      clientDataJSON: bufToB64u(r.clientDataJSON), authenticatorData: bufToB64u(r.authenticatorData), signature: bufToB64u(r.signature),
      ...(r.userHandle ? { userHandle: bufToB64u(r.userHandle) } : {}),
    },
    clientExtensionResults: cred.getClientExtensionResults(),
  };
}

async function registerPasskey(after) {
  if (!window.PublicKeyCredential) { setStatus(t("noWebauthn"), true); return false; }
  const c = claims(token()) || {};
  const o = await api("POST", "/holders/me/passkeys/options", { displayName: (c.name || "Sidian").slice(0, 64) });
  if (!o.ok) { setStatus(errText(o.json, o.status), true); return false; }
  let response;
  try { response = await createPasskey(o.json); } catch (e) { setStatus(String(e && e.message || e), true); return false; }
  const r = await api("POST", "/holders/me/passkeys", { response });
  if (!r.ok) { setStatus(errText(r.json, r.status), true); return false; }
  if (after) await after();
  setStatus(t("passkeyAdded"));
  return true;
}

async function passkeys() {
  const r = await api("GET", "/holders/me/passkeys");
  return r.ok ? r.json.items : [];
}

// ---------------------------------------------------------------------------------------------- holder's page

async function home() {
  show("home");
  setStatus(t("loading"));
  const [w, all, keys] = await Promise.all([api("GET", "/holders/me/signatures?which=waiting"), api("GET", "/holders/me/signatures?which=all"), passkeys()]);
  setStatus("");
  const card = (i) => {
    const li = el("li");
    const a = el("a", i.title);
    a.href = `/sign/${encodeURIComponent(i.id)}`;
    li.append(a, el("br"), el("small", `${t("st_" + i.status)} · ${t("role_" + i.role)} · ${t("ps_" + i.myStatus)} · ${t("expires")} ${bj(i.expiresAt)}`));
    return li;
  };
  $("waiting").replaceChildren(...(w.ok ? w.json.items.map(card) : []));
  $("waiting-empty").hidden = !(w.ok && w.json.items.length === 0);
  $("signed").replaceChildren(...(all.ok ? all.json.items.filter((i) => i.myStatus === "signed" || i.myStatus === "declined").map(card) : []));
  $("passkeys").replaceChildren(...(keys.length ? keys.map((k) => el("li", `${k.id.slice(0, 10)}… · ${t("created")} ${bj(k.createdAt)} · ${t("passkeyUsed")} ${k.lastUsedAt ? bj(k.lastUsedAt) : t("never")}`)) : [el("li", t("noPasskeys"))]));
}

// ---------------------------------------------------------------------------------------------- signing page

let current = null; // { id, req, me }
const MM = 72 / 25.4;

async function requestPage(id) {
  show("request");
  $("result").hidden = true;
  setStatus(t("loading"));
  const r = await api("GET", `/signatures/${encodeURIComponent(id)}`);
  if (!r.ok) { setStatus(errText(r.json, r.status), true); $("r-title").textContent = ""; return; }
  const req = r.json;
  const me = req.participants.find((p) => p.me && p.role !== "copy") || req.participants.find((p) => p.me);
  current = { id, req, me };
  renderFacts(req, me);
  const canAct = req.status === "in_progress" && me && me.status === "pending";
  $("act").hidden = !canAct;
  if (!canAct) {
    if (req.status !== "in_progress") setStatus(t("closed", { s: t("st_" + req.status) }), req.status !== "completed");
    else if (me && (me.status === "signed" || me.status === "declined")) setStatus(t("alreadyActed"));
    else if (me && me.status === "waiting") setStatus(t("notYourTurn"));
    else setStatus("");
  } else {
    setStatus("");
    $("use-saved").hidden = !localStorage.getItem(SAVED);
    $("need-passkey").hidden = (await passkeys()).length > 0;
  }
  await renderDocument(id, req, me);
}

function renderFacts(req, me) {
  $("r-title").textContent = req.title;
  const rows = [
    ["f_status", t("st_" + req.status)], ["f_matter", req.matterCode || "—"], ["f_case", req.caseRef || "—"], ["f_initiator", req.initiator],
    ["f_expires", bj(req.expiresAt)], ["f_group", `${req.currentGroup} / ${req.groupCount}`],
    ["f_me", me ? `${t("role_" + me.role)} · ${t("ps_" + me.status)}` : "—"], ["f_sha", req.currentSha256 || "—"],
  ];
  $("facts").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", t(k)), el("dd", v)]));
  $("participants").replaceChildren(...req.participants.map((p) => {
    const li = el("li", `${p.name}${p.me ? t("you") : ""} · ${t("role_" + p.role)} · ${t("group", { n: p.group })} · ${t("ps_" + p.status)}${p.actedAt ? " · " + bj(p.actedAt) : ""}${p.declineReason ? " · " + p.declineReason : ""}`);
    li.dataset.status = p.status;
    return li;
  }));
}

let pdfjs = null;
async function loadPdfjs() {
  if (!pdfjs) {
    pdfjs = await import("/sign/pdfjs/pdf.min.mjs");
    pdfjs.GlobalWorkerOptions.workerSrc = "/sign/pdfjs/pdf.worker.min.mjs";
  }
  return pdfjs;
}

/** Where a placement lands on a page, in PDF points [x0, y0, x1, y1], by the server's rule (placeholders: baseline start). */
async function placementRect(page, pl) {
  if (!pl) return null;
  if ("placeholder" in pl) {
    const tc = await page.getTextContent();
    for (const it of tc.items) {
      const i = typeof it.str === "string" ? it.str.indexOf(pl.placeholder) : -1;
      if (i < 0) continue;
      const x = it.transform[4] + (it.str.length ? (it.width * i) / it.str.length : 0), y = it.transform[5];
      return [x, y - 0.3 * pl.heightMm * MM, x + pl.widthMm * MM, y + 0.7 * pl.heightMm * MM];
    }
    return null;
  }
  const [vx0, , , vy1] = page.view;
  const x = vx0 + pl.xMm * MM, y = vy1 - pl.yMm * MM;
  return [x, y - pl.heightMm * MM, x + pl.widthMm * MM, y];
}

async function renderDocument(id, req, me) {
  const box = $("pages");
  box.replaceChildren(el("p", t("rendering"), "hint"));
  const d = await api("GET", `/signatures/${encodeURIComponent(id)}/document`, undefined, { raw: true });
  if (!d.ok) { box.replaceChildren(el("p", errText(d.json, d.status), "error")); return; }
  const data = new Uint8Array(await d.res.arrayBuffer());
  const lib = await loadPdfjs();
  const doc = await lib.getDocument({
    data, cMapUrl: "/sign/pdfjs/cmaps/", cMapPacked: true, standardFontDataUrl: "/sign/pdfjs/standard_fonts/", wasmUrl: "/sign/pdfjs/wasm/",
    isEvalSupported: false, enableXfa: false,
  }).promise;
  box.replaceChildren();
  const width = Math.min(box.clientWidth || 800, 820);
  const dpr = Math.min(window.devicePixelRatio || 1, 2);
  // Placements that are found on a page (placeholders are searched page by page, the first hit counts as on the server).
  const pending = new Map(req.participants.filter((p) => p.placement).map((p) => [p.idx, p]));
  for (let n = 1; n <= doc.numPages; n++) {
    const page = await doc.getPage(n);
    const base = page.getViewport({ scale: 1 });
    const scale = width / base.width;
    const vp = page.getViewport({ scale: scale * dpr });
    const wrap = el("div", null, "page");
    wrap.dataset.page = String(n);
    wrap.style.width = `${width}px`;
    wrap.style.height = `${base.height * scale}px`;
    const canvas = document.createElement("canvas");
    canvas.width = Math.floor(vp.width);
    canvas.height = Math.floor(vp.height);
    wrap.append(canvas, el("span", n === doc.numPages && req.pageCount && n > req.pageCount ? t("reportPage") : t("page", { n }), "no"));
    box.append(wrap);
    await page.render({ canvas, viewport: vp }).promise;
    const cssVp = page.getViewport({ scale });
    for (const p of [...pending.values()]) {
      const pl = p.placement;
      if (!("placeholder" in pl) && pl.page !== n) continue;
      const rect = await placementRect(page, pl);
      if (!rect) continue;
      pending.delete(p.idx);
      const [x0, y0] = cssVp.convertToViewportPoint(rect[0], rect[1]);
      const [x1, y1] = cssVp.convertToViewportPoint(rect[2], rect[3]);
      const b = el("div", p.me ? t("yourBox") : p.name, p.me ? "box mine" : "box");
      Object.assign(b.style, { left: `${Math.min(x0, x1)}px`, top: `${Math.min(y0, y1)}px`, width: `${Math.abs(x1 - x0)}px`, height: `${Math.abs(y1 - y0)}px` });
      b.dataset.participant = String(p.idx);
      wrap.append(b);
    }
  }
  box.dataset.rendered = String(doc.numPages);
  if (me && me.placement) {
    const mine = box.querySelector(".box.mine");
    if (mine && me.status === "pending") mine.scrollIntoView({ block: "center" });
  }
}

// ---------------------------------------------------------------------------------------------- drawing pad

const pad = { strokes: [], cur: null };
function padCtx() {
  const c = $("pad");
  const r = c.getBoundingClientRect();
  const dpr = Math.min(window.devicePixelRatio || 1, 2);
  if (c.width !== Math.round(r.width * dpr)) { c.width = Math.round(r.width * dpr); c.height = Math.round(r.height * dpr); }
  const g = c.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  return { c, g, r };
}
function redraw() {
  const { c, g } = padCtx();
  g.clearRect(0, 0, c.width, c.height);
  g.strokeStyle = "#10235c";
  g.lineWidth = 2.5;
  g.lineCap = "round";
  g.lineJoin = "round";
  for (const s of pad.strokes) {
    g.beginPath();
    g.moveTo(s[0], s[1]);
    if (s.length === 2) g.lineTo(s[0] + 0.1, s[1] + 0.1);
    for (let i = 2; i < s.length; i += 2) g.lineTo(s[i], s[i + 1]);
    g.stroke();
  }
}
function padPoint(e) {
  const r = $("pad").getBoundingClientRect();
  const x = Math.min(Math.max(e.clientX - r.left, 0), r.width), y = Math.min(Math.max(e.clientY - r.top, 0), r.height);
  return [Math.round(x * 10) / 10, Math.round(y * 10) / 10];
}
function padSetup() {
  const c = $("pad");
  c.addEventListener("pointerdown", (e) => {
    if (pad.strokes.length >= 200) return;
    c.setPointerCapture(e.pointerId);
    pad.cur = padPoint(e);
    pad.strokes.push(pad.cur);
    redraw();
  });
  c.addEventListener("pointermove", (e) => {
    if (!pad.cur) return;
    const [x, y] = padPoint(e);
    const n = pad.cur.length;
    const points = pad.strokes.reduce((a, s) => a + s.length / 2, 0);
    if (points >= 5000 || Math.hypot(x - pad.cur[n - 2], y - pad.cur[n - 1]) < 1.5) return;
    pad.cur.push(x, y);
    redraw();
  });
  const end = () => { pad.cur = null; };
  c.addEventListener("pointerup", end);
  c.addEventListener("pointercancel", end);
  $("clear").addEventListener("click", () => { pad.strokes = []; redraw(); });
  $("use-saved").addEventListener("click", () => {
    const m = JSON.parse(localStorage.getItem(SAVED) || "null");
    if (!m) return;
    const { r } = padCtx();
    const k = Math.min(r.width / m.width, r.height / m.height);
    pad.strokes = m.strokes.map((s) => s.map((v) => Math.round(v * k * 10) / 10));
    redraw();
  });
  window.addEventListener("resize", () => { if (!$("request").hidden) redraw(); });
}
function mark() {
  const r = $("pad").getBoundingClientRect();
  return { width: Math.round(r.width * 10) / 10, height: Math.round(r.height * 10) / 10, strokes: pad.strokes.map((s) => [...s]) };
}

// ---------------------------------------------------------------------------------------------- sign / decline

async function sign() {
  if (!current) return;
  if (pad.strokes.length === 0) { setStatus(t("drawFirst"), true); return; }
  const m = mark();
  const btn = $("sign");
  btn.disabled = true;
  try {
    setStatus(t("confirming"));
    const o = await api("POST", `/signatures/${encodeURIComponent(current.id)}/sign/options`);
    if (!o.ok) {
      if (o.json.code === "PASSKEY_REQUIRED") $("need-passkey").hidden = false;
      setStatus(errText(o.json, o.status), true);
      return;
    }
    let assertion;
    try { assertion = await getAssertion(o.json.options); } catch (e) { setStatus(String(e && e.message || e), true); return; }
    setStatus(t("signing"));
    const r = await api("POST", `/signatures/${encodeURIComponent(current.id)}/sign`, { assertion, mark: m });
    if (!r.ok) { setStatus(errText(r.json, r.status), true); return; }
    if ($("save-mark").checked) localStorage.setItem(SAVED, JSON.stringify(m));
    const res = $("result");
    res.className = "result";
    res.textContent = t("signedOk", { i: r.json.logIndex, h: r.json.documentSha256 });
    res.dataset.outcome = "signed";
    await requestPage(current.id);
    res.hidden = false;
    setStatus("");
  } finally {
    btn.disabled = false;
  }
}

async function decline(e) {
  e.preventDefault();
  if (!current) return;
  const reason = new FormData(e.target).get("reason").trim();
  if (!reason) return;
  const r = await api("POST", `/signatures/${encodeURIComponent(current.id)}/decline`, { reason });
  if (!r.ok) { setStatus(errText(r.json, r.status), true); return; }
  e.target.reset();
  await requestPage(current.id);
  const res = $("result");
  res.className = "result declined";
  res.textContent = t("declinedOk");
  res.dataset.outcome = "declined";
  res.hidden = false;
}

// ---------------------------------------------------------------------------------------------- routing

function route() {
  applyLang();
  if (!token()) { show("login"); return; }
  const m = /^\/sign\/([^/]+)$/.exec(location.pathname);
  (m ? requestPage(decodeURIComponent(m[1])) : home()).catch((e) => setStatus(String(e && e.message || e), true));
}

takeTokenFromFragment();
padSetup();
$("login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const tok = String(new FormData(e.target).get("token") || "");
  if (!setToken(tok)) { $("login-error").textContent = t("loggedOut"); return; }
  $("login-error").textContent = "";
  e.target.reset();
  route();
});
$("logout").addEventListener("click", logout);
$("lang").addEventListener("click", () => { lang = lang === "zh" ? "en" : "zh"; localStorage.setItem(LANG, lang); route(); });
$("register").addEventListener("click", () => registerPasskey(home));
$("register-here").addEventListener("click", () => registerPasskey(async () => { $("need-passkey").hidden = true; }));
$("sign").addEventListener("click", () => { sign().catch((e) => setStatus(String(e && e.message || e), true)); });
$("decline-form").addEventListener("submit", (e) => { decline(e).catch((x) => setStatus(String(x && x.message || x), true)); });
route();
