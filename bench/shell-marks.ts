// make bench — what reading the shell-integration marks (exit statuses) adds to the command guard's work on a
// terminal's output: 200 MiB in 32 KiB chunks through CommandGuard.fromTarget with the exit-status tracker on
// (as the proxy runs it) against the same guard without it, in the same run, for
//   (a) ordinary terminal output (`ls -l --color`, a build log: colour sequences, no OSC);
//   (b) a coloured log: several colour sequences (ESC [) on every line, which the search for ESC ] passes over;
//   (c) hostile output: an OSC (a window title) on every line, each one looked at and dropped.
//   node dist/bench/shell-marks.js [--mib N]
import { performance } from 'node:perf_hooks';
import { CommandGuard, ShellMarkScanner } from '../appliance/commands/index.js';

const MIB = 1024 * 1024;
const CHUNK = 32 * 1024;
const argMib = process.argv.indexOf('--mib');
const TOTAL = (argMib > 0 ? Number(process.argv[argMib + 1]) : 200) * MIB;

function chunks(line: (k: number, n: number) => string): Buffer[] {
  return Array.from({ length: 8 }, (_, k) => {
    let s = '';
    for (let n = 1; s.length < CHUNK; n++) s += line(k, n);
    return Buffer.from(s.slice(0, CHUNK), 'latin1');
  });
}

const ordinary = chunks((k, n) =>
  n % 7 === 0 ? `\x1b[01;34mdirectory-${k}-${n}\x1b[0m\r\n` : `-rw-r--r-- 1 user group ${(n * 7919) % 100000} Nov 23 02:18 file-${k}-${n}.log  some words of output\r\n`,
);
const coloured = chunks((_k, n) => `\x1b[32m[INFO]\x1b[0m \x1b[1m${n}\x1b[0m service started [pid ${n}] ok\r\n`);
const titled = chunks((k, n) => `\x1b]0;user@db01: ~/${k}/${n}\x07-rw-r--r-- 1 user group ${n} file-${n}.log\r\n`);

function guard(withStatus: boolean): CommandGuard {
  return new CommandGuard({ rules: [], mode: 'rules', onRelease: () => {}, ...(withStatus ? { onExitStatus: () => {} } : {}) });
}

/**
 * Milliseconds per MiB spent in each of two feeds: passes alternate between them (so neither gets the warmer
 * machine or the other's garbage to collect), the best of five each (the machine is shared).
 */
function msPerMib(base: (b: Buffer) => void, other: (b: Buffer) => void, input: Buffer[]): [number, number] {
  const best = [Infinity, Infinity];
  for (let pass = 0; pass < 10; pass++) {
    const feed = pass % 2 === 0 ? base : other;
    const t0 = performance.now();
    for (let done = 0, i = 0; done < TOTAL; done += CHUNK, i++) feed(input[i % input.length]!);
    best[pass % 2] = Math.min(best[pass % 2]!, performance.now() - t0);
  }
  return [best[0]! / (TOTAL / MIB), best[1]! / (TOTAL / MIB)];
}

function row(name: string, [base, withMarks]: [number, number]): void {
  console.log(`${name.padEnd(44)} ${base.toFixed(3).padStart(8)} ms/MiB  ${withMarks.toFixed(3).padStart(8)} ms/MiB  ratio ${(withMarks / base).toFixed(3)}`);
}

console.log(`shell-integration marks: ${TOTAL / MIB} MiB in ${CHUNK / 1024} KiB chunks; baseline, then with the exit-status scanner`);
for (const [name, input] of [
  ['(a) guard, ordinary terminal output', ordinary],
  ['(b) guard, colour sequences on every line', coloured],
  ['(c) guard, an OSC title on every line', titled],
] as const) {
  const plain = guard(false);
  const marked = guard(true);
  row(name, msPerMib((b) => plain.fromTarget(b), (b) => marked.fromTarget(b), input));
  plain.close();
  marked.close();
}
// The scanner alone, against one full pass of Buffer.indexOf for a byte that is not there (a memchr).
let sink = 0;
for (const [name, input] of [
  ['(a) scanner alone vs one memchr', ordinary],
  ['(b) scanner alone vs one memchr', coloured],
  ['(c) scanner alone vs one memchr', titled],
] as const) {
  const scanner = new ShellMarkScanner();
  row(name, msPerMib((b) => (sink += b.indexOf(0x04)), (b) => scanner.scan(b, () => sink++), input));
}
if (sink === 0) console.log('');
