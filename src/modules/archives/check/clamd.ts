/**
 * A client of ClamAV's clamd (an outside service) over its socket: `zINSTREAM`, then the file as chunks (4-byte
 * big-endian length + bytes), then a zero-length chunk; clamd answers `stream: OK`, `stream: <name> FOUND` or
 * `... ERROR` (clamd(8), "INSTREAM"). One connection per file, so a finding names its file.
 */
import net from "node:net";

export interface ClamdConfig {
  /** A unix socket path (`/run/clamav/clamd.ctl`) or `tcp://host:port`. */
  readonly address: string;
  /** Per file, ms (connect to answer). */
  readonly timeoutMs: number;
  /** Bytes per INSTREAM chunk (must stay under clamd's StreamMaxLength). */
  readonly chunkBytes?: number;
}

export type ClamdVerdict = { status: "clean" } | { status: "infected"; signature: string } | { status: "error"; detail: string };

export interface ClamdSession {
  write(chunk: Buffer): Promise<void>;
  /** Sends the end chunk and waits for the verdict. */
  end(): Promise<ClamdVerdict>;
  abort(): void;
}

function connect(address: string): net.Socket {
  if (address.startsWith("tcp://")) {
    const u = new URL(address);
    return net.connect({ host: u.hostname, port: Number(u.port || 3310) });
  }
  return net.connect({ path: address });
}

/** Opens one INSTREAM scan. Never rejects: transport failures become `{status: "error"}` from end(). */
export function clamdSession(cfg: ClamdConfig): ClamdSession {
  const sock = connect(cfg.address);
  const max = cfg.chunkBytes ?? 64 * 1024;
  let failure: string | null = null;
  let answer = "";
  let closed = false;
  const timer = setTimeout(() => {
    failure ??= `no answer from clamd within ${cfg.timeoutMs} ms`;
    sock.destroy();
  }, cfg.timeoutMs);
  sock.on("error", (e) => void (failure ??= `clamd at ${cfg.address}: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
  sock.on("data", (d: Buffer) => {
    if (answer.length < 4096) answer += d.toString("utf8");
  });
  const done = new Promise<void>((resolve) => sock.on("close", () => {
    closed = true;
    clearTimeout(timer);
    resolve();
  }));
  sock.write("zINSTREAM\0");
  const send = (b: Buffer) => new Promise<void>((resolve) => {
    if (closed || failure) return resolve();
    if (sock.write(b)) resolve();
    else {
      const go = () => {
        sock.off("close", go);
        sock.off("drain", go);
        resolve();
      };
      sock.once("drain", go);
      sock.once("close", go);
    }
  });
  return {
    async write(chunk) {
      for (let o = 0; o < chunk.length; o += max) {
        const part = chunk.subarray(o, o + max);
        const len = Buffer.alloc(4);
        len.writeUInt32BE(part.length);
        await send(Buffer.concat([len, part]));
      }
    },
    async end() {
      await send(Buffer.alloc(4));
      await done;
      const a = answer.replace(/\0+$/, "").trim();
      if (!a) return { status: "error", detail: failure ?? "clamd closed the connection without an answer" };
      const m = /^stream: (.*)$/.exec(a);
      if (a.endsWith("ERROR") || !m) return { status: "error", detail: `clamd: ${a.slice(0, 200)}` };
      if (m[1] === "OK") return { status: "clean" };
      const f = /^(.*) FOUND$/.exec(m[1]!);
      return f ? { status: "infected", signature: f[1]! } : { status: "error", detail: `clamd: ${a.slice(0, 200)}` };
    },
    abort() {
      sock.destroy();
    },
  };
}

/** `zVERSION`: what the configured clamd says it is (for the report), or null when it does not answer. */
export function clamdVersion(cfg: ClamdConfig): Promise<string | null> {
  return new Promise((resolve) => {
    const sock = connect(cfg.address);
    let a = "";
    const t = setTimeout(() => sock.destroy(), cfg.timeoutMs);
    sock.on("error", () => undefined);
    sock.on("data", (d: Buffer) => void (a += d.toString("utf8")));
    sock.on("close", () => {
      clearTimeout(t);
      resolve(a ? a.replace(/\0+$/, "").trim().slice(0, 200) : null);
    });
    sock.write("zVERSION\0");
  });
}
