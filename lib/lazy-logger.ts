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
   * @param outer the lazy child this one was made from, whose bindings come first
   */
  constructor(
    private readonly parent: Logger,
    private readonly bindings: Bindings,
    private readonly options?: ChildLoggerOptions,
    private readonly outer?: LazyLogger,
  ) {
    this.#level = options?.level ?? outer?.level ?? parent.level;
  }

  get level(): string {
    return this.#level;
  }
  set level(value: string) {
    this.#level = value;
    if (this.#real) this.#real.level = value as LevelWithSilent;
  }

  /**
   * Another lazy child; bindings and options are merged only if a line is written
   * (merging them here, per request, cost more than the rest of the child).
   */
  child(more: Bindings, options?: ChildLoggerOptions): LazyLogger {
    return new LazyLogger(this.parent, more, options, this);
  }

  #allBindings(): Bindings {
    return this.outer ? { ...this.outer.#allBindings(), ...this.bindings } : this.bindings;
  }

  #allOptions(): ChildLoggerOptions | undefined {
    return this.outer ? { ...this.outer.#allOptions(), ...this.options } : this.options;
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
    this.#real ??= this.parent.child(this.#allBindings(), { ...this.#allOptions(), level: this.#level });
    (this.#real[method] as LogFn)(...args);
  }
}

export function lazyChild(parent: Logger, bindings: Bindings, options?: ChildLoggerOptions): LazyLogger {
  return new LazyLogger(parent, bindings, options);
}
