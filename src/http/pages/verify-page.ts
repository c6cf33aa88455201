/**
 * The verification page (/v/:token, /v/l/:identifier): server-rendered HTML, no JavaScript, no third-party assets.
 * Chinese first with an English toggle; the verdict is words and a symbol, not colour alone; `<details>` shows
 * the checks without script. Personal data is masked by the verifier before it gets here.
 */
import type { Verdict } from "../../modules/licences/index.js";
import type { PageOutcome } from "../../modules/qr/index.js";
import { own } from "../../util/lookup.js";

export type Lang = "zh" | "en";

const SPECIAL = /[&<>"']/;
const SPECIALS = /[&<>"']/g;
export function esc(s: unknown): string {
  const str = String(s ?? "");
  // Most values (names, dates, identifiers) have nothing to escape: skip the replace.
  return SPECIAL.test(str) ? str.replace(SPECIALS, (c) => `&#${c.charCodeAt(0)};`) : str;
}

type Tone = "ok" | "warn" | "bad";
interface Headline {
  code: string;
  zh: string;
  en: string;
  tone: Tone;
  note?: { zh: string; en: string };
}

const STATUS_HEADLINE: Record<string, Headline> = {
  "02": { code: "SUSPENDED", zh: "已暂扣", en: "Suspended", tone: "bad" },
  "03": { code: "CANCELLED", zh: "已撤销", en: "Cancelled", tone: "bad" },
  "04": { code: "DEREGISTERED", zh: "已注销", en: "Deregistered", tone: "bad" },
  "05": { code: "EXPIRED", zh: "已过期", en: "Expired", tone: "bad" },
  "07": { code: "REVOKED", zh: "已吊销", en: "Revoked", tone: "bad" },
  "99": { code: "SUPERSEDED", zh: "已变更（有新版本）", en: "Superseded by a newer version", tone: "warn" },
};

/** What the page says in one word, from the token check and the licence verdict. */
export function headline(o: PageOutcome): Headline {
  if (o.kind === "live" && o.token.status === "EXPIRED") {
    return { code: "QR_EXPIRED", zh: "二维码已过期", en: "QR code expired", tone: "warn", note: { zh: "请持证人刷新亮证二维码后重新扫描。", en: "Ask the holder to refresh the live QR code and scan again." } };
  }
  if (o.kind === "live" && o.token.status !== "VALID") {
    return { code: "INVALID", zh: "无效", en: "Invalid", tone: "bad", note: { zh: "这不是有效的四电亮证二维码。", en: "This is not a valid Sidian live QR code." } };
  }
  const v = o.verdict!;
  if (v.result === "VALID") return { code: "VALID", zh: "有效", en: "Valid", tone: "ok" };
  const status = v.licence?.status;
  const statusFailed = v.checks.some((c) => (c.id === "status" || c.id === "validity") && c.status === "FAILED");
  const headline = status ? own(STATUS_HEADLINE, status) : undefined;
  if (statusFailed && headline) return headline;
  if (statusFailed && v.checks.some((c) => c.id === "validity" && c.status === "FAILED")) return STATUS_HEADLINE["05"]!;
  if (v.result === "INDETERMINATE") return { code: "INDETERMINATE", zh: "无法确认", en: "Cannot be confirmed", tone: "warn" };
  return { code: "INVALID", zh: "无效", en: "Invalid", tone: "bad" };
}

const CSS = `
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;color:#1b1b1b;background:#f4f4f2}
main{max-width:34rem;margin:0 auto;padding:1rem}
.verdict{border-radius:.75rem;padding:1.25rem;color:#fff;display:flex;gap:1rem;align-items:center}
.verdict .sym{font-size:2.75rem;line-height:1;font-weight:700}
.verdict h1{margin:0;font-size:2rem}.verdict p{margin:.25rem 0 0}
.ok{background:#1d6b33}.warn{background:#8a5a00}.bad{background:#a1161b}
.card{background:#fff;border-radius:.75rem;padding:1rem 1.25rem;margin-top:1rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem;margin:0}dt{color:#555}dd{margin:0;word-break:break-all}
.seal{display:flex;justify-content:center;margin-top:.5rem}.seal img{width:9rem;height:9rem}
details{margin-top:1rem}summary{cursor:pointer;font-weight:600}
ul.checks{list-style:none;padding:0;margin:.5rem 0 0}ul.checks li{padding:.35rem 0;border-top:1px solid #eee}
.PASSED::before{content:"✓ ";color:#1d6b33}.FAILED::before{content:"✗ ";color:#a1161b}.INDETERMINATE::before{content:"? ";color:#8a5a00}
footer{color:#555;font-size:.85rem;margin:1rem 0;display:flex;justify-content:space-between;gap:1rem}
a{color:#0b4f8a}
`;

const LABELS = {
  zh: { title: "电子证照核验", licence: "证照名称", number: "证照编号", holder: "持证主体", code: "证件号码", issuer: "发证机关", validity: "有效期", longTerm: "长期", identifier: "证照标识", checkedAt: "核验时间", details: "核验详情", log: "溯源日志序号", toggle: "English", qrExpires: "二维码有效至", none: "未能识别证照" },
  en: { title: "E-licence verification", licence: "Licence", number: "Licence number", holder: "Holder", code: "Holder code", issuer: "Issued by", validity: "Valid", longTerm: "no end date", identifier: "Identifier", checkedAt: "Checked at", details: "Details", log: "Transparency log index", toggle: "中文", qrExpires: "QR code valid until", none: "No licence could be identified" },
} as const;

const CHECK_NAMES: Record<string, { zh: string; en: string }> = {
  format: { zh: "格式", en: "Format" }, signature: { zh: "电子签名", en: "Signature" }, chain: { zh: "证书链", en: "Certificate chain" },
  issuer: { zh: "发证机关授权", en: "Issuer authorised" }, record: { zh: "登记记录", en: "Registry record" }, validity: { zh: "有效期", en: "Validity period" },
  status: { zh: "证照状态", en: "Status" }, log: { zh: "溯源日志", en: "Transparency log" }, internal: { zh: "内部", en: "Internal" },
};

function fmtTime(d: Date, lang: Lang): string {
  // China Standard Time, to the second: what counter staff compare with their clock.
  const s = new Date(d.getTime() + 8 * 3600_000).toISOString().replace("T", " ").slice(0, 19);
  return lang === "zh" ? `${s}（北京时间）` : `${s} (UTC+8)`;
}

/** Stands for the checked-at time in a page rendered once and reused (see renderVerifyPageParts). */
const NOW_MARK = "\u0000now\u0000";

/** The label/value rows both the page and the counter show. */
export function factRows(o: PageOutcome, lang: Lang, now: Date | typeof NOW_MARK): Array<[string, string]> {
  const L = LABELS[lang];
  const lic = o.verdict?.licence;
  const rows: Array<[string, string]> = [];
  if (lic) {
    rows.push([L.licence, lic.name], [L.number, lic.number], [L.holder, lic.holder.name], [L.code, lic.holder.code], [L.issuer, lic.issuer.name],
      [L.validity, `${lic.validFrom} — ${lic.validUntil ?? L.longTerm}`], [L.identifier, lic.identifier]);
  }
  if (o.kind === "live" && "expiresAt" in o.token) rows.push([L.qrExpires, fmtTime(o.token.expiresAt, lang)]);
  rows.push([L.checkedAt, now === NOW_MARK ? NOW_MARK : fmtTime(now, lang)]);
  return rows;
}

/** The checks as shown: the live token's own check first, then the licence verdict's. */
export function checkRows(o: PageOutcome, lang: Lang): Array<{ name: string; status: string; detail: string }> {
  const out: Array<{ name: string; status: string; detail: string }> = [];
  if (o.kind === "live") {
    out.push({
      name: lang === "zh" ? "亮证二维码" : "Live QR code",
      status: o.token.status === "VALID" ? "PASSED" : "FAILED",
      detail: o.token.status === "VALID" ? (lang === "zh" ? "签名有效，未过期" : "signed and current") : "detail" in o.token ? o.token.detail : o.token.status,
    });
  }
  for (const c of o.verdict?.checks ?? []) out.push({ name: (own(CHECK_NAMES, c.id) ?? { zh: c.id, en: c.id })[lang], status: c.status, detail: c.detail });
  return out;
}

/**
 * `sealUrl`: the issuing department's official seal picture (an SVG the browser caches: it never changes for a
 * seal id), referenced rather than inlined so every scan does not resend ~20 KB.
 */
export function renderVerifyPage(o: PageOutcome, opts: { lang: Lang; now: Date; sealUrl?: string | null; selfPath: string }): string {
  return withTime(renderVerifyPageParts(o, opts), opts.now, opts.lang);
}

/** A page rendered without its checked-at time: the same outcome is shown again with only the time changed. */
export interface PageParts {
  head: string;
  tail: string;
}

export function withTime(p: PageParts, now: Date, lang: Lang): string {
  return p.head + esc(fmtTime(now, lang)) + p.tail;
}

export function renderVerifyPageParts(o: PageOutcome, opts: { lang: Lang; sealUrl?: string | null; selfPath: string }): PageParts {
  const html = render(o, opts);
  const at = html.indexOf(NOW_MARK);
  return { head: html.slice(0, at), tail: html.slice(at + NOW_MARK.length) };
}

function render(o: PageOutcome, opts: { lang: Lang; sealUrl?: string | null; selfPath: string }): string {
  const L = LABELS[opts.lang];
  const h = headline(o);
  const v: Verdict | undefined = o.verdict;
  const lic = v?.licence;
  const sym = h.tone === "ok" ? "✓" : h.tone === "warn" ? "!" : "✗";
  const title = opts.lang === "zh" ? h.zh : h.en;
  const other = opts.lang === "zh" ? "en" : "zh";
  const rows = factRows(o, opts.lang, NOW_MARK);
  return `<!doctype html>
<html lang="${opts.lang === "zh" ? "zh-CN" : "en"}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><link rel="icon" href="data:,"><title>${esc(title)} · ${esc(L.title)}</title><style>${CSS}</style></head>
<body><main>
<section class="verdict ${h.tone}" role="status" aria-live="polite" data-verdict="${h.code}"><span class="sym" aria-hidden="true">${sym}</span><div><h1>${esc(title)}</h1><p>${esc(L.title)}${h.note ? ` — ${esc(opts.lang === "zh" ? h.note.zh : h.note.en)}` : ""}</p></div></section>
<section class="card">${lic ? "" : `<p>${esc(L.none)}</p>`}<dl>${rows.map(([k, val]) => `<dt>${esc(k)}</dt><dd>${esc(val)}</dd>`).join("")}</dl>
${opts.sealUrl ? `<div class="seal"><img src="${esc(opts.sealUrl)}" alt="${esc(opts.lang === "zh" ? `${lic?.issuer.name ?? ""}印章` : `Seal of ${lic?.issuer.name ?? "the issuer"}`)}" width="144" height="144"></div>` : ""}
<details><summary>${esc(L.details)}</summary><ul class="checks">${checkRows(o, opts.lang).map((c) => `<li class="${esc(c.status)}">${esc(c.name)}: ${esc(c.detail)}</li>`).join("")}</ul>
${v?.evidence ? `<p>${esc(L.log)}: ${esc(v.evidence.logIndex)} / ${esc(v.evidence.treeSize)}</p>` : ""}</details></section>
<footer><span>四电 Sidian</span><a href="${esc(opts.selfPath)}?lang=${other}" hreflang="${other}">${esc(L.toggle)}</a></footer>
</main></body></html>`;
}
