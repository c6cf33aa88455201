import fs from "node:fs";
import { generateKeyPairSync } from "node:crypto";
import t from "tap";
import {
  addSignatureLines,
  cosignatureLine,
  createNoteSigner,
  formatCheckpoint,
  formatVkey,
  NoteError,
  openNote,
  parseCheckpointText,
  parseNoteSigningKey,
  parseVkey,
  signCheckpoint,
  signNote,
  verifyCheckpoint,
  ALG_COSIGNATURE_V1,
} from "../../src/modules/tlog/checkpoint.js";
import { leafHash } from "../../src/modules/tlog/merkle.js";

const V = JSON.parse(fs.readFileSync(new URL("../../fixtures/tlog/signed-note-vectors.json", import.meta.url), "utf8")) as {
  source: string; skey: string; vkey: string; text: string; signedNote: string;
};

t.test("signed-note reference vector (golang.org/x/mod/sumdb/note)", async (t) => {
  t.match(V.source, /sumdb\/note/);
  const k = parseNoteSigningKey(V.skey);
  t.equal(k.name, "PeterNeumann");
  t.equal(formatVkey(k.name, k.publicKey), V.vkey, "vkey derived from the private key matches (key ID = SHA-256(name‖0x0A‖0x01‖pub)[:4])");
  const signer = createNoteSigner(k.name, k.privateKey);
  t.equal(signNote(V.text, [signer]), V.signedNote, "Ed25519 signature line byte for byte (em dash, base64(keyID‖sig))");
  const opened = openNote(V.signedNote, [parseVkey(V.vkey)]);
  t.equal(opened.text, V.text);
  t.equal(opened.verified.length, 1);
  t.equal(opened.verified[0]!.keyId.toString("hex"), "c74f20a3");
});

t.test("vkey parsing rejects manglings", async (t) => {
  const bad = [
    V.vkey.slice(1),
    V.vkey.slice(0, -1),
    V.vkey.replace("c74f20a3", "c74f20a4"),
    V.vkey.replace("+ARpc", "+BRpc"),
    "PeterNeumann+c74f20a3",
    "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
  ];
  for (const b of bad) t.throws(() => parseVkey(b), NoteError, `rejects ${JSON.stringify(b.slice(0, 30))}…`);
});

t.test("checkpoints: format, sign, verify, tamper", async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const name = "example.com/log";
  const signer = createNoteSigner(name, privateKey, publicKey);
  const v = parseVkey(formatVkey(name, publicKey));
  const root = leafHash(Buffer.from("x"));
  const body = formatCheckpoint({ origin: name, size: 42, root });
  t.equal(body, `${name}\n42\n${root.toString("base64")}\n`, "C2SP checkpoint body");
  const note = signCheckpoint({ origin: name, size: 42, root }, signer);
  t.match(note, new RegExp(`^${body.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}\\n\u2014 ${name.replace(/[./]/g, "\\$&")} [A-Za-z0-9+/]+=*\\n$`), "one signature line after a blank line");
  const cp = verifyCheckpoint(note, v, { origin: name });
  t.equal(cp.size, 42);
  t.ok(cp.root.equals(root));

  t.throws(() => verifyCheckpoint(note.replace("\n42\n", "\n43\n"), v), NoteError, "changed size");
  t.throws(() => verifyCheckpoint(note, v, { origin: "other.example/log" }), NoteError, "wrong origin");
  const other = generateKeyPairSync("ed25519");
  t.throws(() => verifyCheckpoint(note, parseVkey(formatVkey(name, other.publicKey))), NoteError, "another key under the same name");
  t.throws(() => verifyCheckpoint(note.replace("\u2014", "-"), v), NoteError, "signature line without the em dash");
  t.throws(() => parseCheckpointText("o\n01\n" + root.toString("base64") + "\n"), NoteError, "leading zero in size");
  t.throws(() => parseCheckpointText("o\n1\n" + root.subarray(1).toString("base64") + "\n"), NoteError, "31-byte root");
  t.throws(() => parseCheckpointText("o\n1\n"), NoteError, "missing root line");

  // Signatures by unknown keys are ignored, not errors (C2SP).
  const stranger = createNoteSigner("stranger.example", other.privateKey);
  const twice = signNote(body, [signer, stranger]);
  t.equal(verifyCheckpoint(twice, v).opened.verified.length, 1, "unknown co-signer ignored");
});

t.test("witness cosignature (c2sp.org/tlog-cosignature), optional", async (t) => {
  const log = generateKeyPairSync("ed25519");
  const wit = generateKeyPairSync("ed25519");
  const name = "example.com/log";
  const note = signCheckpoint({ origin: name, size: 7, root: leafHash(Buffer.from("r")) }, createNoteSigner(name, log.privateKey));
  const text = note.slice(0, note.indexOf("\n\n") + 1);
  const cosigned = addSignatureLines(note, [cosignatureLine(text, { name: "witness.example", privateKey: wit.privateKey }, 1_700_000_000)]);
  const wv = parseVkey(formatVkey("witness.example", wit.publicKey, ALG_COSIGNATURE_V1));
  const cp = verifyCheckpoint(cosigned, parseVkey(formatVkey(name, log.publicKey)), { witnesses: [wv] });
  t.same(cp.opened.cosignedAt, { "witness.example": 1_700_000_000 }, "cosignature verified with its timestamp");
  const forged = cosigned.replace(/(witness\.example )(\S+)/, (_m, a: string, b64: string) => {
    const raw = Buffer.from(b64, "base64");
    raw[raw.length - 1]! ^= 1; // keep the key ID, break the signature
    return a + raw.toString("base64");
  });
  t.throws(() => verifyCheckpoint(forged, parseVkey(formatVkey(name, log.publicKey)), { witnesses: [wv] }), NoteError, "a bad cosignature by a known witness is an error");
});
