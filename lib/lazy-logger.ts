/**
 * A child logger that is built only when it first writes a line. The HTTP server
 * makes one child per request (request id, then tenant and key); most requests log
 * nothing at the configured level, and building a pino child (its bindings
 * serialised and redacted) was about a tenth of a cheap request's CPU. A class, so a
 * request costs one small object and no closures.
 */
import type { Bindings, ChildLoggerOptions, LevelWithSilent, Logger } from 'pino';

type Method = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
type LogFn = (...args: unknown[]) => void;

export class LazyLogger {
  #real: Logger | undefined;
  #level: string;

  /**
   * @param parent the logger the child would be made from
   * @param bindings fields every line of the child carries
   * @param options pino child options; `level` applies as it would to a real child
   */
  constructor(
    private readonly parent: Logger,
    private readonly bindings: Bindings,
    private readonly options?: ChildLoggerOptions,
  ) {
    this.#level = options?.level ?? parent.level;
  }

  get level(): string {
    return this.#level;
  }
  set level(value: string) {
    this.#level = value;
    if (this.#real) this.#real.level = value as LevelWithSilent;
  }

  /** Bindings merge into one lazy child instead of a chain of real ones. */
  child(more: Bindings, options?: ChildLoggerOptions): LazyLogger {
    return new LazyLogger(this.parent, { ...this.bindings, ...more }, { ...this.options, level: this.#level, ...options });
  }

  fatal(...args: unknown[]): void {
    this.#write('fatal', args);
  }
  error(...args: unknown[]): void {
    this.#write('error', args);
  }
  warn(...args: unknown[]): void {
    this.#write('warn', args);
  }
  info(...args: unknown[]): void {
    this.#write('info', args);
  }
  debug(...args: unknown[]): void {
    this.#write('debug', args);
  }
  trace(...args: unknown[]): void {
    this.#write('trace', args);
  }
  silent(): void {}

  #write(method: Method, args: unknown[]): void {
    // Compare numeric levels as pino does, without building the child.
    const values = this.parent.levels.values;
    if (this.#level === 'silent' || values[method]! < (values[this.#level] ?? 0)) return;
    this.#real ??= this.parent.child(this.bindings, { ...this.options, level: this.#level });
    (this.#real[method] as LogFn)(...args);
  }
}

export function lazyChild(parent: Logger, bindings: Bindings, options?: ChildLoggerOptions): LazyLogger {
  return new LazyLogger(parent, bindings, options);
}
