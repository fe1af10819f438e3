// Commands typed in proxied sessions: the line reconstructed from keys and echo, the command rules and their
// judgement, the guard that applies them to a live channel, and the shell's own marks that tell a line's exit
// status. One place for SSH and the web terminal.
export { TerminalScreen } from './terminal-screen.js';
export { LineReconstructor, type KeyEvent } from './line-reconstructor.js';
export {
  judge,
  judgeExec,
  commandParts,
  mostRestrictive,
  validateRule,
  validateRules,
  MAX_PATTERN_LENGTH,
  MAX_RULES,
  MAX_MATCH_INPUT,
  type CommandAction,
  type CommandRule,
  type CommandRuleMode,
  type CommandVerdict,
} from './rules.js';
export { TerminalText } from './terminal-text.js';
export { CommandGuard, endsWithSecretPrompt, type CommandGuardOptions, type GuardedCommand, type GuardRelease, type ClientVerdict } from './command-guard.js';
export { ShellMarkScanner, parseMark, MAX_MARK_BODY, type ShellMark } from './shell-marks.js';
export { ExitStatusTracker } from './exit-status-tracker.js';
