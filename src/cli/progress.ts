/**
 * A small progress bar for long CLI work, on stderr. On a terminal it redraws one line; elsewhere (CI, pipes)
 * it prints a line at every 10% so logs stay readable.
 */
export interface Progress {
  tick(n?: number): void;
  set(done: number): void;
  done(message?: string): void;
}

export function progressBar(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  const tty = Boolean(stream.isTTY);
  const start = performance.now();
  let done = 0;
  let lastDraw = 0;
  let lastDecile = -1;
  const draw = (force = false) => {
    const now = performance.now();
    const frac = total > 0 ? Math.min(1, done / total) : 1;
    const secs = (now - start) / 1000;
    const rate = secs > 0 ? done / secs : 0;
    const eta = rate > 0 && total > done ? (total - done) / rate : 0;
    const text = `${label} ${(frac * 100).toFixed(1).padStart(5)}% ${done}/${total} ${Math.round(rate)}/s${eta ? ` eta ${eta.toFixed(0)}s` : ""}`;
    if (tty) {
      if (!force && now - lastDraw < 100) return;
      lastDraw = now;
      const width = 30;
      const filled = Math.round(frac * width);
      stream.write(`\r[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${text}\x1b[K`);
    } else {
      const decile = Math.floor(frac * 10);
      if (decile !== lastDecile || force) {
        lastDecile = decile;
        stream.write(`${text}\n`);
      }
    }
  };
  return {
    tick(n = 1) {
      done += n;
      draw();
    },
    set(d) {
      done = d;
      draw();
    },
    done(message) {
      draw(true);
      if (tty) stream.write("\n");
      if (message) stream.write(`${message}\n`);
    },
  };
}
