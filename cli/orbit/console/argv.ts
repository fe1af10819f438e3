// Splitting a console line into arguments the way a POSIX shell splits words — blanks separate, quotes
// group, a backslash escapes — and nothing else a shell does: no variables, globs, `~`, history (`!`),
// pipes, redirections or command separators. `|`, `;`, `>` and `$(...)` are ordinary characters of an
// argument, so a line can never start a second program: the orbit console hands the words to orbit alone.

export class ArgvSyntaxError extends Error {}

export function splitArgv(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === '\\' && i + 1 < line.length && '"\\'.includes(line[i + 1]!)) word += line[++i];
      else word += c;
      continue;
    }
    if (c === ' ' || c === '\t') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === "'" || c === '"') quote = c;
    else if (c === '\\') {
      if (i + 1 >= line.length) throw new ArgvSyntaxError('a backslash at the end of the line escapes nothing');
      word += line[++i];
    } else word += c;
  }
  if (quote) throw new ArgvSyntaxError(`unterminated ${quote === '"' ? 'double' : 'single'} quote`);
  if (inWord) words.push(word);
  return words;
}
