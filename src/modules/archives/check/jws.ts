/** Chain check shared by the JWS verification: the x5c leaf chains to a configured anchor at `at`. */
import { verifyChain } from "../../../pki/chain.js";
import type { CertInfo } from "../../../pki/reader.js";
import type { Trust } from "./context.js";

export async function chainOk(leaf: CertInfo, more: readonly CertInfo[], trust: Trust, at: Date): Promise<string | null> {
  const chain = await verifyChain({ leaf, intermediates: [...more, ...trust.intermediates], anchors: trust.anchors, at });
  if (chain.result === "VALID") return null;
  const f = chain.checks.find((c) => c.status !== "PASSED");
  return `${leaf.subject} does not chain to a configured trust anchor at ${at.toISOString()}: ${f?.detail ?? chain.problem}`;
}
