/**
 * The key-store URL `SIDIAN_KEYSTORE=pkcs11:…`: an RFC 7512 PKCS#11 URI naming the token, with the module and the
 * PIN's file as query attributes.
 *
 *   pkcs11:token=Sidian?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/secrets/sidian-hsm-pin
 *
 * Path attributes (which token): `token` (its label; required unless `slot-id` is given), `serial`, `slot-id`,
 * `manufacturer`, `model`. Query attributes: `module-path` (required: the PKCS#11 library), `pin-source` (required:
 * `file:/abs/path` or `/abs/path`; the file holds the user PIN, one line) and `x-sessions` (sessions kept open for
 * signing, 1–32, default 4). `pin-value` is refused: a PIN in the URL ends up in the environment, in process
 * listings and in logs. Values are percent-decoded (a space in a label is `%20`). Unknown attributes are refused,
 * so a typo does not silently pick another token.
 */
export interface Pkcs11Uri {
  /** The URI as given, with nothing secret in it (it never holds the PIN). */
  readonly text: string;
  readonly token?: string;
  readonly serial?: string;
  readonly slotId?: number;
  readonly manufacturer?: string;
  readonly model?: string;
  readonly modulePath: string;
  readonly pinFile: string;
  readonly sessions: number;
}

const PATH_ATTRS = new Set(["token", "serial", "slot-id", "manufacturer", "model", "object", "type", "id", "library-manufacturer", "library-description", "library-version", "slot-description", "slot-manufacturer"]);
const USED_PATH_ATTRS = new Set(["token", "serial", "slot-id", "manufacturer", "model"]);
const QUERY_ATTRS = new Set(["module-path", "pin-source", "x-sessions"]);

function decode(v: string, name: string, problems: string[]): string {
  try {
    return decodeURIComponent(v);
  } catch {
    problems.push(`${name}: "${v}" is not percent-encoded correctly`);
    return v;
  }
}

/** Parses the URI; returns the problems found (all at once) instead of throwing, so config can list them. */
export function parsePkcs11Uri(text: string): { uri?: Pkcs11Uri; problems: string[] } {
  const problems: string[] = [];
  if (!text.startsWith("pkcs11:")) return { problems: ['a PKCS#11 key store URL starts with "pkcs11:"'] };
  const rest = text.slice("pkcs11:".length);
  const q = rest.indexOf("?");
  const pathPart = q < 0 ? rest : rest.slice(0, q);
  const queryPart = q < 0 ? "" : rest.slice(q + 1);
  const attrs = new Map<string, string>();
  const query = new Map<string, string>();
  for (const [part, sep, known, into, where] of [
    [pathPart, ";", PATH_ATTRS, attrs, "path"],
    [queryPart, "&", QUERY_ATTRS, query, "query"],
  ] as const) {
    if (part === "") continue;
    for (const kv of part.split(sep)) {
      const eq = kv.indexOf("=");
      const name = eq < 0 ? kv : kv.slice(0, eq);
      if (name === "pin-value") {
        problems.push("pin-value is refused: keep the PIN in a file and name it with pin-source=file:/path");
        continue;
      }
      if (eq < 0) {
        problems.push(`"${kv}" is not name=value`);
        continue;
      }
      if (!known.has(name)) {
        problems.push(`unknown ${where} attribute "${name}"`);
        continue;
      }
      if (where === "path" && !USED_PATH_ATTRS.has(name)) {
        problems.push(`the ${name} attribute does not select a token; Sidian finds each key by the public key in its certificate`);
        continue;
      }
      if (into.has(name)) problems.push(`${name} is given twice`);
      into.set(name, decode(kv.slice(eq + 1), name, problems));
    }
  }
  const modulePath = query.get("module-path") ?? "";
  if (!modulePath) problems.push("module-path is required (the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so)");
  else if (!modulePath.startsWith("/")) problems.push("module-path must be an absolute path");
  let pinFile = query.get("pin-source") ?? "";
  if (pinFile.startsWith("file:")) pinFile = pinFile.slice("file:".length).replace(/^\/\/(?=\/)/, "");
  if (!pinFile) problems.push("pin-source is required: pin-source=file:/path/to/pin-file");
  else if (!pinFile.startsWith("/")) problems.push("pin-source must name an absolute file path (file:/path)");
  let sessions = 4;
  const s = query.get("x-sessions");
  if (s !== undefined) {
    if (!/^\d+$/.test(s) || Number(s) < 1 || Number(s) > 32) problems.push(`x-sessions must be a whole number from 1 to 32 (got "${s}")`);
    else sessions = Number(s);
  }
  let slotId: number | undefined;
  const sid = attrs.get("slot-id");
  if (sid !== undefined) {
    if (!/^\d+$/.test(sid)) problems.push(`slot-id must be a decimal number (got "${sid}")`);
    else slotId = Number(sid);
  }
  if (!attrs.get("token") && slotId === undefined) problems.push("name the token: token=<label> (or slot-id=<n>)");
  if (problems.length) return { problems };
  const opt = (k: string) => attrs.get(k);
  return {
    problems,
    uri: {
      text,
      modulePath,
      pinFile,
      sessions,
      ...(opt("token") !== undefined ? { token: opt("token")! } : {}),
      ...(opt("serial") !== undefined ? { serial: opt("serial")! } : {}),
      ...(slotId !== undefined ? { slotId } : {}),
      ...(opt("manufacturer") !== undefined ? { manufacturer: opt("manufacturer")! } : {}),
      ...(opt("model") !== undefined ? { model: opt("model")! } : {}),
    },
  };
}
