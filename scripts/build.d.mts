/** Types of scripts/build.mjs for the TypeScript code that calls it. */
export function build(): Promise<{ files: number; assets: number }>;
export function isFresh(): boolean;
/** Build dist/ when a source is newer than it; resolves with the dist directory. */
export function ensureBuilt(): Promise<string>;
