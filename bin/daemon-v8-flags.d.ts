// Types of daemon-v8-flags.js, for the TypeScript that imports it (the benchmarks).
export declare const DAEMON_V8_FLAGS: readonly string[];
