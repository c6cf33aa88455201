/**
 * A FAKE of an outside service: a tiny in-process clamd that speaks the real protocol of ClamAV's clamd(8) over a
 * unix socket — `zVERSION`, and `zINSTREAM` followed by chunks (4-byte big-endian length + bytes) ending with a
 * zero-length chunk, answered `stream: OK`, `stream: <signature> FOUND` or `INSTREAM size limit exceeded. ERROR`
 * (StreamMaxLength) — and "detects" only the EICAR anti-virus test string. It is not ClamAV: it stands in for one
 * so the checker's client is tested against the wire format, not against a stub of itself.
 */
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export const EICAR = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

export interface FakeClamd {
  address: string;
  /** INSTREAM sessions served (one per file). */
  sessions: number;
  close(): Promise<void>;
}

export async function startFakeClamd(o: { streamMaxLength?: number; /** a socket path (default: a new one) */ address?: string } = {}): Promise<FakeClamd> {
  const address = o.address ?? path.join(fs.mkdtempSync(path.join(os.tmpdir(), "fake-clamd-")), "clamd.sock");
  const max = o.streamMaxLength ?? 25 * 1024 * 1024;
  const state = { sessions: 0 };
  const server = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    let mode: "command" | "stream" | "done" = "command";
    const body: Buffer[] = [];
    let size = 0;
    sock.on("error", () => undefined);
    sock.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (mode === "command") {
        const end = buf.indexOf(0);
        if (end < 0) return;
        const cmd = buf.subarray(0, end).toString("latin1");
        buf = buf.subarray(end + 1);
        if (cmd === "zVERSION") {
          sock.end("ClamAV 1.0.0-fake/0/Thu Jan  1 00:00:00 1970\0");
          mode = "done";
          return;
        }
        if (cmd !== "zINSTREAM") {
          sock.end("UNKNOWN COMMAND\0");
          mode = "done";
          return;
        }
        state.sessions++;
        mode = "stream";
      }
      while (mode === "stream" && buf.length >= 4) {
        const len = buf.readUInt32BE(0);
        if (len === 0) {
          mode = "done";
          const all = Buffer.concat(body).toString("latin1");
          sock.end(all.includes(EICAR) ? "stream: Eicar-Test-Signature FOUND\0" : "stream: OK\0");
          return;
        }
        if (buf.length < 4 + len) return;
        size += len;
        if (size > max) {
          mode = "done";
          sock.end("INSTREAM size limit exceeded. ERROR\0");
          return;
        }
        body.push(Buffer.from(buf.subarray(4, 4 + len)));
        buf = buf.subarray(4 + len);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(address, resolve));
  return {
    address,
    get sessions() {
      return state.sessions;
    },
    close: () => new Promise<void>((resolve) => server.close(() => {
      if (o.address) fs.rmSync(address, { force: true });
      else fs.rmSync(path.dirname(address), { recursive: true, force: true });
      resolve();
    })),
  };
}
