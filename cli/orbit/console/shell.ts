// The orbit console: a prompt that runs orbit commands and nothing else. Each line is split into words
// (splitArgv: quotes and backslashes, no shell syntax), the first must name an orbit command, and the words
// go to a fresh orbit process as its argv — no shell is ever started, so `!bash`, `a | b` or `$(...)` are
// just words orbit refuses. The child gets the terminal while it runs (prompts, Ctrl-C), then the prompt
// comes back with its history.
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import readline from 'node:readline';
import { ArgvSyntaxError, splitArgv } from './argv.js';

export interface ConsoleOptions {
  /** Subcommand names of orbit that may be run (the console itself is left out by the caller). */
  commands: string[];
  /** One line about each, for `help`. */
  summaries?: Record<string, string>;
  /** How to start orbit: the executable and the arguments before the subcommand (node, main.js, --home ...). */
  orbit: { command: string; args: string[] };
  input?: NodeJS.ReadableStream & { isTTY?: boolean };
  output?: NodeJS.WritableStream & { isTTY?: boolean };
}

const BUILTINS = ['help', 'exit', 'quit', 'logout'];

/** What the console answers to a line: run orbit with `argv`, print `message`, or end. */
export type ConsoleAction = { run: string[] } | { message: string } | { exit: true } | { help: true } | { nothing: true };

export function interpretLine(line: string, commands: string[]): ConsoleAction {
  let words: string[];
  try {
    words = splitArgv(line);
  } catch (e) {
    if (e instanceof ArgvSyntaxError) return { message: `cannot read that line: ${e.message}` };
    throw e;
  }
  if (words.length === 0) return { nothing: true };
  const [first, ...rest] = words as [string, ...string[]];
  if (first === 'exit' || first === 'quit' || first === 'logout') return { exit: true };
  if (first === 'help' && rest.length === 0) return { help: true };
  // `help user` is `user --help`: the way people ask at a prompt.
  if (first === 'help') return interpretLine([rest[0]!, ...rest.slice(1), '--help'].map(quoteWord).join(' '), commands);
  if (first.startsWith('!')) return { message: 'there is no system shell on this console: it runs orbit commands only (type help)' };
  if (first === 'orbit' && rest.length > 0) return interpretLine(rest.map(quoteWord).join(' '), commands);
  if (!commands.includes(first)) {
    return { message: `${JSON.stringify(first)} is not an orbit command (type help for the list; shell syntax such as | ; > $( ) is not understood here)` };
  }
  return { run: words };
}

/** A word back into a line that splitArgv reads as that same word. */
function quoteWord(w: string): string {
  return `'${w.replace(/'/g, `'\\''`)}'`;
}

export async function runConsole(options: ConsoleOptions): Promise<number> {
  const input = options.input ?? process.stdin;
  const output = options.output ?? process.stdout;
  const say = (text: string) => output.write(text + '\n');
  const host = hostname().split('.')[0] ?? 'warden';
  const prompt = `orbit@${host}> `;
  let history: string[] = [];
  const ignoreInterrupt = () => {};

  const terminal = Boolean(input.isTTY && output.isTTY);
  const completer = (line: string): [string[], string] => {
    const all = [...options.commands, ...BUILTINS];
    const hits = all.filter((c) => c.startsWith(line.trim()));
    return [hits.length ? hits : all, line];
  };
  // Without a terminal (a script piped in) one interface reads every line: closing it would drop what it
  // has buffered. Children then get no stdin, or they would eat the lines meant for the console.
  const piped = terminal ? undefined : readline.createInterface({ input, terminal: false })[Symbol.asyncIterator]();

  /** The next line typed, or null at end of input (Ctrl-D). */
  const nextLine = async (): Promise<string | null> => {
    if (piped) {
      output.write(prompt);
      const r = await piped.next();
      if (!r.done) output.write(r.value + '\n');
      return r.done ? null : r.value;
    }
    // A fresh interface per line: closing it hands the terminal (cooked mode, no readline) to the child.
    const rl = readline.createInterface({ input, output, prompt, terminal: true, history, historySize: 500, removeHistoryDuplicates: true, completer });
    const line = await new Promise<string | null>((resolve) => {
      rl.on('line', (l) => resolve(l));
      rl.on('close', () => resolve(null));
      // Ctrl-C at the prompt drops the line being typed, as in a shell; it does not end the console.
      rl.on('SIGINT', () => {
        output.write('^C\n');
        rl.write(null, { ctrl: true, name: 'u' });
        rl.prompt();
      });
      rl.prompt();
    });
    history = (rl as unknown as { history?: string[] }).history ?? history; // readline keeps it on the instance
    rl.removeAllListeners('close');
    rl.close();
    return line;
  };

  say(`Warden console on ${host}. Type help for the commands, exit to leave.`);
  for (;;) {
    const line = await nextLine();
    if (line === null) {
      say('');
      return 0;
    }
    const action = interpretLine(line, options.commands);
    if ('exit' in action) return 0;
    if ('nothing' in action) continue;
    if ('message' in action) {
      say(action.message);
      continue;
    }
    if ('help' in action) {
      say('Commands (type "help COMMAND" or "COMMAND --help" for more):');
      const width = Math.max(...options.commands.map((c) => c.length), 'help, exit'.length);
      for (const c of options.commands) say(`  ${c.padEnd(width)}  ${options.summaries?.[c] ?? ''}`.trimEnd());
      say(`  ${'help, exit'.padEnd(width)}  this list; leave the console`);
      continue;
    }
    // The child is in the terminal's foreground group with us: Ctrl-C reaches it; we must outlive it.
    process.on('SIGINT', ignoreInterrupt);
    try {
      const code = await new Promise<number>((resolve) => {
        const child = spawn(options.orbit.command, [...options.orbit.args, ...action.run], { stdio: [piped ? 'ignore' : 'inherit', 'inherit', 'inherit'] });
        child.on('error', (e) => {
          say(`could not start orbit: ${e.message}`);
          resolve(1);
        });
        child.on('exit', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
      });
      if (code !== 0) say(`(exit ${code})`);
    } finally {
      process.off('SIGINT', ignoreInterrupt);
    }
  }
}
