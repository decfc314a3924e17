// A one-line progress indicator on stderr for long CLI runs. On a terminal it rewrites
// one line; when stderr is not a TTY (CI logs, pipes) it stays silent, so logs carry no
// noise. Standard output is never touched: it belongs to the command's results.

export interface Progress {
  update(text: string): void;
  /** Print a line that stays (a warning, an error), keeping the progress line below it. */
  log(text: string): void;
  done(): void;
}

export function progressLine(stream: NodeJS.WriteStream = process.stderr, minIntervalMs = 100): Progress {
  const tty = !!stream.isTTY;
  let last = 0;
  let current = '';
  const clear = () => {
    if (tty && current) stream.write('\r\x1b[K');
  };
  return {
    update(text: string) {
      if (!tty) return;
      const now = Date.now();
      if (now - last < minIntervalMs) {
        current = text;
        return;
      }
      last = now;
      const width = stream.columns ? stream.columns - 1 : 120;
      current = text.length > width ? text.slice(0, width - 1) + '…' : text;
      stream.write('\r\x1b[K' + current);
    },
    log(text: string) {
      clear();
      stream.write(text + '\n');
      if (tty && current) stream.write(current);
    },
    done() {
      clear();
      current = '';
    },
  };
}
