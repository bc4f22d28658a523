// The V8 heap settings the daemon runs with (bin/scaiprobe.js, npm start, the Docker image, the benchmarks).
//
// V8's defaults let a busy daemon's heap grow to several times what it keeps alive before collecting:
// at 20,000 probes a minute, 72 MB live became 480 MB resident. A smaller young generation (8 MB
// semi-spaces instead of 16) and old-generation growth of 30 % per collection instead of V8's adaptive
// factor (up to 4x) keep it near 230 MB for about the same CPU (bench/scheduler.bench.ts, docs/benchmarks.md).
export const DAEMON_V8_FLAGS = ['--max-semi-space-size=8', '--heap-growing-percent=30'];
