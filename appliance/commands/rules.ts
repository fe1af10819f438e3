// Command rules: an ordered list of regular expressions with an action each, and the pure judgement of one
// command line against them. The same judgement serves interactive lines, exec commands, and later the
// web terminal.
import { InputError } from '../errors/index.js';

export type CommandAction = 'allow' | 'alert' | 'block';
/** 'rules': what no rule matches is allowed. 'allow-list': only what an allow (or alert) rule matches passes. */
export type CommandRuleMode = 'rules' | 'allow-list';

export interface CommandRule {
  pattern: string;
  action: CommandAction;
}

export interface CommandVerdict {
  action: CommandAction;
  /** The rule that decided (its position in the list and itself); null when no rule matched. */
  rule: (CommandRule & { position: number }) | null;
  /** The part of the line the rule judged (the whole line, or one command of a list like `a; b`). */
  part: string;
}

/** A pattern longer than this is refused at save time: long patterns are where catastrophic backtracking hides. */
export const MAX_PATTERN_LENGTH = 512;
export const MAX_RULES = 200;
/**
 * Matching runs on at most this many characters of a line (the start of it): a backtracking pattern costs
 * time in the length of its input, so a bounded input bounds the cost. A longer line is judged on its start
 * and, in allow-list mode, blocked whole (nothing proves the rest harmless).
 */
export const MAX_MATCH_INPUT = 4096;

const ACTIONS: readonly CommandAction[] = ['allow', 'alert', 'block'];
const SEVERITY: Record<CommandAction, number> = { allow: 0, alert: 1, block: 2 };

/**
 * Nested quantifiers like `(a+)+` or `(a|a)*` backtrack exponentially; refused outright rather than hoping the
 * input bound saves them. Deliberately coarse: a rule writer never needs a quantified group that itself
 * ends in a quantifier.
 */
const NESTED_QUANTIFIER = /\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*[+*{]/;

/** Check one rule; the error says which rule and why, for the administrator who wrote it. */
export function validateRule(rule: unknown, position: number): CommandRule {
  const where = `rule ${position + 1}`;
  if (typeof rule !== 'object' || rule === null) throw new InputError(`${where}: expected {pattern, action}`, { position });
  const { pattern, action } = rule as Record<string, unknown>;
  if (typeof pattern !== 'string' || pattern.trim() === '') throw new InputError(`${where}: the pattern is empty`, { position, field: 'pattern' });
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new InputError(`${where}: the pattern is longer than ${MAX_PATTERN_LENGTH} characters`, { position, field: 'pattern' });
  }
  if (typeof action !== 'string' || !ACTIONS.includes(action as CommandAction)) {
    throw new InputError(`${where}: the action must be allow, alert or block`, { position, field: 'action' });
  }
  try {
    new RegExp(pattern, 'u');
  } catch (e) {
    throw new InputError(`${where}: not a valid regular expression: ${(e as Error).message}`, { position, field: 'pattern' });
  }
  if (NESTED_QUANTIFIER.test(pattern)) {
    throw new InputError(`${where}: a quantified group that itself repeats (like (a+)+) can take exponential time; rewrite it`, {
      position,
      field: 'pattern',
    });
  }
  return { pattern, action: action as CommandAction };
}

export function validateRules(rules: unknown, mode: unknown): { rules: CommandRule[]; mode: CommandRuleMode } {
  if (mode !== 'rules' && mode !== 'allow-list') throw new InputError("mode must be 'rules' or 'allow-list'", { field: 'mode' });
  if (!Array.isArray(rules)) throw new InputError('rules must be a list', { field: 'rules' });
  if (rules.length > MAX_RULES) throw new InputError(`at most ${MAX_RULES} rules`, { field: 'rules' });
  return { rules: rules.map((r, i) => validateRule(r, i)), mode };
}

const compiled = new Map<string, RegExp>();
function regex(pattern: string): RegExp {
  let re = compiled.get(pattern);
  if (!re) {
    re = new RegExp(pattern, 'u');
    if (compiled.size > 10_000) compiled.clear();
    compiled.set(pattern, re);
  }
  return re;
}

/**
 * The simple commands of a line: split at the shell's control operators (; & && || | and newlines) outside
 * quotes, with the insides of $( ) and backquotes as commands of their own. A rule `^ls` must not let
 * `ls; rm -rf /` through, so every part is judged. It is a tokenizer, not a shell: it errs on more parts.
 */
export function commandParts(line: string): string[] {
  const parts: string[] = [];
  let cur = '';
  let quote: '"' | "'" | null = null;
  const push = () => {
    const t = cur.trim();
    if (t !== '') parts.push(t);
    cur = '';
  };
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote === "'") {
      if (ch === "'") quote = null;
      cur += ch;
      continue;
    }
    if (ch === '\\' && i + 1 < line.length) {
      cur += ch + line[++i];
      continue;
    }
    if (quote === '"' && ch === '"') {
      quote = null;
      cur += ch;
      continue;
    }
    if (quote === null && (ch === '"' || ch === "'")) {
      quote = ch;
      cur += ch;
      continue;
    }
    // Substitutions run even inside double quotes.
    if (ch === '`' || (ch === '$' && line[i + 1] === '(') || (ch === '<' && line[i + 1] === '(') || (ch === '>' && line[i + 1] === '(')) {
      push();
      if (ch !== '`') i++;
      continue;
    }
    if (quote === null && (ch === ';' || ch === '&' || ch === '|' || ch === '\n' || ch === '(' || ch === ')' || ch === '{' || ch === '}')) {
      push();
      continue;
    }
    if (quote === '"' && ch === ')') {
      push();
      continue;
    }
    cur += ch;
  }
  push();
  return parts;
}

function firstMatch(rules: readonly CommandRule[], text: string): (CommandRule & { position: number }) | null {
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    if (regex(rule.pattern).test(text)) return { ...rule, position: i };
  }
  return null;
}

/**
 * The verdict on one command line. Each rule list is ordered: for a piece of text, the first rule that
 * matches decides. The whole line and each of its simple commands are pieces; the most severe verdict over
 * them wins (block > alert > allow), so `echo safe; rm -rf /` is caught by a rule on `^rm`.
 * In allow-list mode the whole line is not a piece (a rule `^ls.*` would otherwise admit `ls; rm -rf /`):
 * every simple command must be matched first by an allow or alert rule.
 */
export function judge(rules: readonly CommandRule[], mode: CommandRuleMode, commandLine: string): CommandVerdict {
  const line = commandLine.trim();
  if (line === '') return { action: 'allow', rule: null, part: '' };
  const tooLong = line.length > MAX_MATCH_INPUT;
  const bounded = tooLong ? line.slice(0, MAX_MATCH_INPUT) : line;
  const parts = commandParts(bounded);
  if (mode === 'allow-list') {
    if (tooLong) return { action: 'block', rule: null, part: bounded };
    let verdict: CommandVerdict = { action: 'allow', rule: null, part: line };
    for (const part of parts) {
      const rule = firstMatch(rules, part);
      if (rule === null || rule.action === 'block') return { action: 'block', rule, part };
      if (SEVERITY[rule.action] > SEVERITY[verdict.action] || verdict.rule === null) verdict = { action: rule.action, rule, part };
    }
    return verdict;
  }
  let verdict: CommandVerdict = { action: 'allow', rule: null, part: line };
  const pieces = parts.length === 1 && parts[0] === bounded ? parts : [bounded, ...parts];
  for (const piece of pieces) {
    const rule = firstMatch(rules, piece);
    if (rule === null) continue;
    if (verdict.rule === null || SEVERITY[rule.action] > SEVERITY[verdict.action]) verdict = { action: rule.action, rule, part: piece };
    if (verdict.action === 'block') break;
  }
  return verdict;
}

/** The verdict on an exec request (`ssh host 'command'`): the whole command, judged before the channel opens. */
export function judgeExec(rules: readonly CommandRule[], mode: CommandRuleMode, command: string): CommandVerdict {
  return judge(rules, mode, command);
}

/**
 * The rules of several access groups that all admit a session, as one: the most restrictive. Allow-list mode
 * wins if any group uses it (an allow-list is a promise that nothing else runs). The lists are concatenated
 * block rules first, then alert, then allow, each keeping its group's order: a block in any group then beats
 * an allow in another, which is what "most restrictive" means for first-match rules. In allow-list mode a
 * command passes only if some group allows it and no group blocks it. (An exception one group wrote as an
 * allow before its own broader block is lost in the merge: that is the restrictive side of the trade.)
 */
export function mostRestrictive(sets: readonly { mode: CommandRuleMode; rules: readonly CommandRule[] }[]): {
  mode: CommandRuleMode;
  rules: CommandRule[];
} {
  if (sets.length === 1) return { mode: sets[0]!.mode, rules: [...sets[0]!.rules] };
  const mode: CommandRuleMode = sets.some((s) => s.mode === 'allow-list') ? 'allow-list' : 'rules';
  const all = sets.flatMap((s) => s.rules);
  const by = (a: CommandAction) => all.filter((r) => r.action === a);
  return { mode, rules: [...by('block'), ...by('alert'), ...by('allow')] };
}
