/** Helpers for e-signature tests: an initiator, participants with holder tokens, a request ready to send. */
import type { Test } from "tap";
import { makePdf } from "../../fixtures/pdf/make-pdf.js";
import { bearer, build, type Harness } from "../helpers/app.js";

/** Citizen IDs with valid check characters (GB 11643). */
export function citizenId(n: number): string {
  const body = `11010519800101${String(n % 1000).padStart(3, "0")}`;
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  let s = 0;
  for (let i = 0; i < 17; i++) s += Number(body[i]) * w[i]!;
  return body + "10X98765432"[s % 11];
}

export interface Person { name: string; code: string; token: string }

export interface SigningSetup {
  h: Harness;
  consumer: { id: string; secret: string; token: string };
  people: Person[];
}

export async function setup(t: Test, n = 3, h?: Harness): Promise<SigningSetup> {
  h ??= await build(t);
  const consumer = await h.client("consumer");
  const people: Person[] = [];
  for (let i = 0; i < n; i++) {
    const code = citizenId(100 + i + Math.floor(Math.random() * 800));
    if (people.some((p) => p.code === code)) {
      i--;
      continue;
    }
    people.push({ name: ["张三", "李四", "王五", "赵六", "钱七"][i % 5]!, code, token: await h.holderToken(code) });
  }
  return { h, consumer, people };
}

export const signer = (p: Person, placement: Record<string, unknown> = { page: 1, xMm: 120, yMm: 200, widthMm: 40, heightMm: 20 }, role = "signer") => ({
  name: p.name, holderCode: p.code, holderCodeType: "111", role, ...(role === "copy" ? {} : { placement }),
});

export function body(s: SigningSetup, groups: unknown[][], extra: Record<string, unknown> = {}) {
  return { title: "告知承诺书", matterCode: "M-0001", caseRef: "2026-000123", expiresAt: new Date(s.h.clock.now().getTime() + 7 * 86_400_000).toISOString(), groups, ...extra };
}

export async function createRequest(s: SigningSetup, groups: unknown[][], opts: { pdf?: Buffer; send?: boolean; token?: string } = {}) {
  const token = opts.token ?? s.consumer.token;
  const res = await s.h.app.inject({ method: "POST", url: "/signatures", headers: bearer(token), payload: body(s, groups) });
  if (res.statusCode !== 201) throw new Error(`create: ${res.statusCode} ${res.body}`);
  const id = res.json().id as string;
  const pdf = opts.pdf ?? makePdf({ pages: 2, lines: (i) => [`Page ${i + 1}`, "I promise the facts are true.", "[[SIGN1]]   [[SIGN2]]"] });
  const up = await s.h.app.inject({ method: "PUT", url: `/signatures/${id}/document`, headers: { ...bearer(token), "content-type": "application/pdf" }, payload: pdf });
  if (up.statusCode !== 200) throw new Error(`document: ${up.statusCode} ${up.body}`);
  if (opts.send !== false) {
    const sent = await s.h.app.inject({ method: "POST", url: `/signatures/${id}/send`, headers: bearer(token) });
    if (sent.statusCode !== 200) throw new Error(`send: ${sent.statusCode} ${sent.body}`);
  }
  return id;
}
