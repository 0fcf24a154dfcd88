/**
 * Redis's MONITOR read on a plain socket. ioredis's `monitor()` enters monitoring mode
 * only a microtask after MONITOR's `+OK`: when the first monitored command arrives in
 * the same TCP read as that `+OK` (a busy shared Redis), ioredis takes it for the reply
 * of a command it never sent and emits `Command queue state error … Last reply: <a
 * MONITOR line>` (issue 15, defect 10). Here every line after the `+OK` is a monitor line.
 */
import { connect, type Socket } from 'node:net';

export interface MonitorLine {
  /** The client's `address:port`, or `lua` for a script's inner calls. */
  source: string;
  /** The command and its arguments, unescaped. */
  args: string[];
}

export interface RedisMonitor {
  close(): void;
}

/** `\xhh`, `\n`, `\"` … as Redis's sdscatrepr writes them. */
function unescape(s: string): string {
  return s.replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_m, c: string) => {
    if (c.length === 3) return String.fromCharCode(parseInt(c.slice(1), 16));
    return ({ n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b' } as Record<string, string>)[c] ?? c;
  });
}

/** `+1700000000.123456 [0 127.0.0.1:5000] "set" "k" "v"` → its source and arguments. */
export function parseMonitorLine(line: string): MonitorLine | undefined {
  const m = /^\+\d+\.\d+ \[\d+ ([^\]]+)\] (.*)$/.exec(line);
  if (!m) return undefined;
  const args = [...m[2]!.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((a) => unescape(a[1]!));
  return { source: m[1]!, args };
}

/** Connect, send MONITOR, resolve once Redis said `+OK`; `onLine` gets every command after it. */
export function startMonitor(redisUrl: string, onLine: (line: MonitorLine) => void): Promise<RedisMonitor> {
  const url = new URL(redisUrl);
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(Number(url.port || 6379), url.hostname);
    let buffer = '';
    let ready = false;
    socket.setEncoding('utf8');
    socket.once('error', reject);
    socket.on('connect', () => socket.write('MONITOR\r\n'));
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        if (!ready) {
          if (line !== '+OK') return reject(new Error(`MONITOR answered ${line}`));
          ready = true;
          socket.removeListener('error', reject);
          socket.on('error', () => undefined); // closing is the only way out of MONITOR
          resolve({ close: () => socket.destroy() });
          continue;
        }
        const parsed = parseMonitorLine(line);
        if (parsed) onLine(parsed);
      }
    });
  });
}
