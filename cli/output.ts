/** CLI output helpers: plain lines on stdout, errors on stderr, a progress bar on a TTY. */

export interface CliIO {
  out: (line: string) => void;
  err: (line: string) => void;
  isTTY: boolean;
  /** Raw text for the progress bar (no newline added). Default: written to stderr. */
  progress?: (text: string) => void;
}

export const processIO: CliIO = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  isTTY: Boolean(process.stderr.isTTY),
};

/** A one-line progress bar on stderr when it is a terminal; silent otherwise. */
export function progressBar(io: CliIO, label: string, total: number) {
  let last = -1;
  const write = io.progress ?? ((text: string) => void process.stderr.write(text));
  return {
    update(done: number) {
      if (!io.isTTY || total <= 0) return;
      const pct = Math.floor((done / total) * 100);
      if (pct === last) return;
      last = pct;
      const width = 30;
      const filled = Math.round((pct / 100) * width);
      write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct}% (${done}/${total})`);
    },
    done() {
      if (io.isTTY && total > 0) write('\n');
    },
  };
}
