/**
 * An in-repo software authenticator (WebAuthn level 2, "none" attestation, ES256) for API tests: it makes the
 * same registration and assertion responses a browser passes on, so the server's verification runs for real.
 * The browser test (test/pages/signing-page.test.ts) uses Chromium's virtual authenticator instead.
 */
import crypto from "node:crypto";

function cborHead(major: number, n: number): Buffer {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 256) return Buffer.from([(major << 5) | 24, n]);
  if (n < 65536) return Buffer.from([(major << 5) | 25, n >> 8, n & 255]);
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(n, 1);
  return b;
}
type Cbor = number | string | Buffer | Map<Cbor, Cbor>;
function cbor(v: Cbor): Buffer {
  if (typeof v === "number") return v >= 0 ? cborHead(0, v) : cborHead(1, -1 - v);
  if (typeof v === "string") return Buffer.concat([cborHead(3, Buffer.byteLength(v)), Buffer.from(v)]);
  if (Buffer.isBuffer(v)) return Buffer.concat([cborHead(2, v.length), v]);
  const parts = [cborHead(5, v.size)];
  for (const [k, x] of v) parts.push(cbor(k), cbor(x));
  return Buffer.concat(parts);
}

const b64u = (b: Buffer) => b.toString("base64url");

export class SoftAuthenticator {
  readonly key = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  readonly credentialId = crypto.randomBytes(16);
  counter = 0;
  constructor(readonly origin: string, readonly rpId: string) {}

  get id(): string {
    return b64u(this.credentialId);
  }

  private cose(): Buffer {
    const jwk = this.key.publicKey.export({ format: "jwk" });
    return cbor(new Map<Cbor, Cbor>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, "base64url")], [-3, Buffer.from(jwk.y!, "base64url")]]));
  }

  register(options: { challenge: string }, opts: { origin?: string } = {}) {
    const clientData = Buffer.from(JSON.stringify({ type: "webauthn.create", challenge: options.challenge, origin: opts.origin ?? this.origin, crossOrigin: false }));
    const rpHash = crypto.createHash("sha256").update(this.rpId).digest();
    const idLen = Buffer.alloc(2);
    idLen.writeUInt16BE(this.credentialId.length);
    const authData = Buffer.concat([rpHash, Buffer.from([0x45]), Buffer.alloc(4), Buffer.alloc(16), idLen, this.credentialId, this.cose()]);
    const attestationObject = cbor(new Map<Cbor, Cbor>([["fmt", "none"], ["attStmt", new Map()], ["authData", authData]]));
    return {
      id: this.id, rawId: this.id, type: "public-key",
      response: { clientDataJSON: b64u(clientData), attestationObject: b64u(attestationObject), transports: ["internal"] },
      clientExtensionResults: {},
    };
  }

  assert(options: { challenge: string }, opts: { origin?: string; userVerified?: boolean } = {}) {
    this.counter++;
    const clientData = Buffer.from(JSON.stringify({ type: "webauthn.get", challenge: options.challenge, origin: opts.origin ?? this.origin, crossOrigin: false }));
    const rpHash = crypto.createHash("sha256").update(this.rpId).digest();
    const cnt = Buffer.alloc(4);
    cnt.writeUInt32BE(this.counter);
    const authData = Buffer.concat([rpHash, Buffer.from([opts.userVerified === false ? 0x01 : 0x05]), cnt]);
    const signature = crypto.sign("sha256", Buffer.concat([authData, crypto.createHash("sha256").update(clientData).digest()]), this.key.privateKey);
    return {
      id: this.id, rawId: this.id, type: "public-key",
      response: { clientDataJSON: b64u(clientData), authenticatorData: b64u(authData), signature: b64u(signature) },
      clientExtensionResults: {},
    };
  }
}
