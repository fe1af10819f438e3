// The command rules applied to one interactive channel, between the user and the target. Every byte from
// the user passes through `fromClient`, every byte from the target through `fromTarget`; the guard forwards
// keys at once except the Enter that submits a line: that one waits until the target's echo of the line has
// arrived (so the line is judged as the shell holds it), and a blocked line gets Ctrl-C instead of its Enter,
// so it never runs. It also hears the shell's own marks in the output, for the exit status of a line
// (see ExitStatusTracker).
import { ExitStatusTracker } from './exit-status-tracker.js';
import { LineReconstructor } from './line-reconstructor.js';
import { judge, type CommandAction, type CommandRule, type CommandRuleMode, type CommandVerdict } from './rules.js';

export interface GuardedCommand {
  /** The line as the target's echo showed it when Enter was pressed. */
  command: string;
  /** When the user pressed Enter (ms since the epoch). */
  at: number;
  action: CommandAction;
  rule: CommandVerdict['rule'];
}

export interface GuardRelease {
  toTarget: Buffer;
  toClient: Buffer;
  blocked?: { command: string; rule: CommandVerdict['rule'] };
}

export interface ClientVerdict {
  /** Bytes for the target now. */
  forward: Buffer;
  /** Bytes for the user's screen now (the reason a line was blocked). */
  toClient: Buffer;
  blocked?: { command: string; rule: CommandVerdict['rule'] };
}

export interface CommandGuardOptions {
  rules: readonly CommandRule[];
  mode: CommandRuleMode;
  columns?: number;
  rows?: number;
  /** Every submitted command (blocked ones too), in order. Called synchronously: keep it cheap (queue it). */
  onCommand?: (command: GuardedCommand) => void;
  /**
   * The exit status of a command reported through `onCommand`, when the target's shell says it (the shell
   * integration mark OSC 133;D, or `exit N` ending the channel with N). Called at most once per command,
   * possibly long after it (when the command finishes); never for a blocked one.
   */
  onExitStatus?: (command: GuardedCommand, status: number) => void;
  /** What the guard sends later, once a held Enter is decided (when it could not be decided at once). */
  onRelease: (release: GuardRelease) => void;
  /** Output quiet this long after the echo started: the echo of the keys sent so far is in. */
  quietMs?: number;
  /** The longest an Enter is held waiting for an echo that does not come (echo off, a stalled target). */
  maxHoldMs?: number;
  now?: () => number;
}

const EMPTY = Buffer.alloc(0);
/** Ctrl-C: drops the line in readline, zle, libedit and a terminal in canonical mode alike. */
const CANCEL_LINE = Buffer.from([0x03]);
/** How a line typed at a password prompt is reported when a rule stops or flags it: never its text. */
const SECRET_LINE = '[line typed at a password prompt]';
const SECRET_LINE_UNREADABLE = '[line typed at a password prompt: cannot be read]';
/** A prompt for a secret: what is typed there is a password, never stored as a command nor recorded as input. */
const SECRET_PROMPT = /(password|passphrase|passcode|pin|token|secret|otp|verification code)[^:\n]{0,40}:\s*$/i;

/** Does `text` (what the target printed last, or a prompt) end in a prompt for a secret (sudo, su, a database client)? */
export function endsWithSecretPrompt(text: string): boolean {
  return SECRET_PROMPT.test(text);
}
/** Input held while a decision is pending, at most: beyond it the user is typing into a stalled session. */
const MAX_QUEUED = 256 * 1024;

export class CommandGuard {
  private readonly lines: LineReconstructor;
  private readonly quietMs: number;
  private readonly maxHoldMs: number;
  private readonly now: () => number;
  /** User bytes not yet looked at, because an earlier Enter is still being decided. */
  private queue: Buffer[] = [];
  private queued = 0;
  /** What the guard waits for before it looks at the queue again. */
  private waiting: { kind: 'echo'; enter: number; since: number; at: number } | { kind: 'prompt'; since: number } | null = null;
  private lastForwardAt = 0;
  private lastOutputAt = 0;
  private outputSinceForward = true;
  /** How long the target takes to echo, smoothed: the hold for an echo that never comes scales with it. */
  private echoDelay = 20;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Keys sent for the line being typed, and output bytes seen since: none back means echo is off. */
  private lineKeys = 0;
  private lineEcho = 0;
  private readonly exits: ExitStatusTracker<GuardedCommand> | null;

  constructor(private readonly options: CommandGuardOptions) {
    const onExitStatus = options.onExitStatus;
    this.exits = onExitStatus ? new ExitStatusTracker<GuardedCommand>((c, status) => onExitStatus(c, status)) : null;
    this.lines = new LineReconstructor(options.columns ?? 80, options.rows ?? 24);
    this.quietMs = options.quietMs ?? 15;
    this.maxHoldMs = options.maxHoldMs ?? 2000;
    this.now = options.now ?? Date.now;
  }

  /** An Enter (and what was typed after it) is held, waiting to be decided: `onRelease` will follow. */
  get holding(): boolean {
    return this.waiting !== null && !this.closed;
  }

  resize(columns: number, rows: number): void {
    this.lines.resize(columns, rows);
  }

  /** The target's bytes: observed, never changed (the caller forwards them to the user as they are). */
  fromTarget(buf: Buffer): void {
    if (this.closed || buf.length === 0) return;
    const now = this.now();
    if (!this.outputSinceForward) this.echoDelay = 0.8 * this.echoDelay + 0.2 * Math.min(5000, now - this.lastForwardAt);
    this.lastOutputAt = now;
    this.outputSinceForward = true;
    this.lines.output(buf);
    this.exits?.output(buf);
    if (this.lineKeys > 0) this.lineEcho += buf.length;
    if (this.waiting) this.schedule();
  }

  /** The user's bytes: what may go on to the target now, and what the user should see. */
  fromClient(buf: Buffer): ClientVerdict {
    if (this.closed) return { forward: EMPTY, toClient: EMPTY };
    if (this.waiting) {
      if (this.queued + buf.length <= MAX_QUEUED) {
        this.queue.push(buf);
        this.queued += buf.length;
      }
      return { forward: EMPTY, toClient: EMPTY };
    }
    const out = this.run(buf);
    return { forward: out.toTarget, toClient: out.toClient, ...(out.blocked ? { blocked: out.blocked } : {}) };
  }

  /** Stop: timers cleared, nothing more is released. `exitCode`: how the target's side of the channel ended. */
  close(exitCode: number | null = null): void {
    if (!this.closed) this.exits?.ended(exitCode);
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.queue = [];
  }

  /** Look at user bytes until an Enter has to wait; what remains goes back to the queue. */
  private run(buf: Buffer): GuardRelease {
    const toTarget: Buffer[] = [];
    const toClient: Buffer[] = [];
    let start = 0;
    for (let i = 0; i < buf.length; i++) {
      const ev = this.lines.inputByte(buf[i]!);
      if (ev === 'cancel') {
        this.lines.commit();
        this.lineKeys = 0;
        this.lineEcho = 0;
        continue;
      }
      if (ev !== 'enter') continue;
      const before = buf.subarray(start, i);
      if (before.length > 0) {
        toTarget.push(before);
        this.lineKeys += before.length;
        this.forwarded();
      }
      const now = this.now();
      if (before.length > 0 || !this.echoCaughtUp(now)) {
        // The echo of what was just sent is not in yet: hold this Enter and everything after it.
        this.waiting = { kind: 'echo', enter: buf[i]!, since: now, at: now };
        this.requeue(buf.subarray(i + 1));
        this.schedule();
        return { toTarget: Buffer.concat(toTarget), toClient: Buffer.concat(toClient) };
      }
      const decided = this.decide(buf[i]!, now);
      toTarget.push(decided.toTarget);
      toClient.push(decided.toClient);
      if (decided.blocked) return { toTarget: Buffer.concat(toTarget), toClient: Buffer.concat(toClient), blocked: decided.blocked };
      start = i + 1;
      if (start < buf.length) {
        // More lines typed ahead: the next one starts where the next prompt is drawn, so wait for it.
        this.waiting = { kind: 'prompt', since: now };
        this.requeue(buf.subarray(start));
        this.schedule();
        return { toTarget: Buffer.concat(toTarget), toClient: Buffer.concat(toClient) };
      }
    }
    const rest = buf.subarray(start);
    if (rest.length > 0) {
      toTarget.push(rest);
      this.lineKeys += rest.length;
      this.forwarded();
    }
    return { toTarget: Buffer.concat(toTarget), toClient: Buffer.concat(toClient) };
  }

  private requeue(rest: Buffer): void {
    if (rest.length === 0) return;
    this.queue.unshift(Buffer.from(rest));
    this.queued += rest.length;
  }

  private forwarded(): void {
    this.lastForwardAt = this.now();
    this.outputSinceForward = false;
  }

  private echoCaughtUp(now: number): boolean {
    return this.outputSinceForward && now - this.lastOutputAt >= this.quietMs;
  }

  /** Judge the line on the screen now and answer the held Enter: the Enter itself, or Ctrl-C and a notice. */
  private decide(enter: number, at: number): GuardRelease {
    const shown = this.lines.currentLine();
    const typed = this.lines.typedLine();
    const echoOff = this.lineKeys > 0 && this.lineEcho === 0;
    const prompt = this.lines.promptText();
    this.lines.commit();
    this.lineKeys = 0;
    this.lineEcho = 0;
    const { rules, mode } = this.options;
    let verdict: CommandVerdict;
    let reported = shown;
    if (endsWithSecretPrompt(prompt)) {
      // The answer to a password prompt — or a shell whose prompt only looks like one (PS1='Password: ' and
      // `stty -echo`). Judged on what was typed (echo off) or shown (echo on, which a slow `stty -echo` allows),
      // so such a prompt is no way around the rules; but never kept as text: a password must not reach the
      // command index or the trail. The allow-list cannot apply here: a password matches none of it.
      const line = echoOff ? typed : shown;
      if (mode === 'allow-list' || rules.length === 0) verdict = { action: 'allow', rule: null, part: '' };
      else if (line === null) verdict = { action: 'block', rule: null, part: '' };
      else verdict = judge(rules, 'rules', line);
      reported = verdict.action === 'allow' ? '' : line === null ? SECRET_LINE_UNREADABLE : SECRET_LINE;
    } else if (echoOff && (rules.length > 0 || mode === 'allow-list')) {
      // Keys went out and nothing came back: the terminal does not echo (`stty -echo` makes readline silent
      // too). Not a password prompt, so this is a way around the echo: judge the keys, and a line the keys
      // alone cannot tell (history, completion) is not let through unseen.
      if (typed === null) {
        verdict = { action: 'block', rule: null, part: '' };
        reported = '[line not echoed: cannot be read]';
      } else {
        verdict = judge(rules, mode, typed);
        // Only a line a rule blocks or flags is reported: an allowed unechoed line may be a secret.
        reported = verdict.action === 'allow' ? '' : typed;
      }
    } else {
      verdict = judge(rules, mode, shown);
      // A line whose echo is still arriving shows a prefix of what was typed: judge the typed line too (it
      // is about to be shown anyway, so it is no secret), and keep the more severe verdict.
      if (typed !== null && shown !== '' && typed !== shown && typed.startsWith(shown)) {
        const other = judge(rules, mode, typed);
        const rank = { allow: 0, alert: 1, block: 2 } as const;
        if (rank[other.action] > rank[verdict.action]) verdict = other;
      }
    }
    const guarded: GuardedCommand | null = reported !== '' ? { command: reported, at, action: verdict.action, rule: verdict.rule } : null;
    if (guarded) this.options.onCommand?.(guarded);
    if (verdict.action !== 'block') this.exits?.submitted(guarded, reported);
    if (verdict.action === 'block') {
      // What was typed after the blocked line was typed on the assumption it ran: drop it.
      this.queue = [];
      this.queued = 0;
      this.forwarded();
      return { toTarget: CANCEL_LINE, toClient: Buffer.from(blockedNotice(verdict, reported)), blocked: { command: reported, rule: verdict.rule } };
    }
    this.forwarded();
    return { toTarget: Buffer.from([enter]), toClient: EMPTY };
  }

  private schedule(): void {
    if (this.timer || !this.waiting || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.tick();
    }, this.quietMs);
    this.timer.unref?.();
  }

  private tick(): void {
    const w = this.waiting;
    if (!w || this.closed) return;
    const now = this.now();
    const hold = Math.min(this.maxHoldMs, Math.max(100, 4 * this.echoDelay));
    const gaveUp = now - w.since >= hold;
    if (!this.echoCaughtUp(now) && !gaveUp) {
      this.schedule();
      return;
    }
    this.waiting = null;
    const toTarget: Buffer[] = [];
    const toClient: Buffer[] = [];
    let blocked: GuardRelease['blocked'];
    if (w.kind === 'echo') {
      const d = this.decide(w.enter, w.at);
      toTarget.push(d.toTarget);
      toClient.push(d.toClient);
      blocked = d.blocked;
      if (!blocked && this.queue.length > 0) {
        this.waiting = { kind: 'prompt', since: now };
        this.schedule();
      }
    } else {
      const queued = Buffer.concat(this.queue);
      this.queue = [];
      this.queued = 0;
      const r = this.run(queued);
      toTarget.push(r.toTarget);
      toClient.push(r.toClient);
      blocked = r.blocked;
    }
    const release: GuardRelease = { toTarget: Buffer.concat(toTarget), toClient: Buffer.concat(toClient), ...(blocked ? { blocked } : {}) };
    if (release.toTarget.length > 0 || release.toClient.length > 0) this.options.onRelease(release);
  }
}

function blockedNotice(verdict: CommandVerdict, reported: string): string {
  const which = verdict.rule
    ? `rule ${verdict.rule.position + 1} (${verdict.rule.pattern})`
    : reported.startsWith('[line not echoed') || reported === SECRET_LINE_UNREADABLE
      ? 'the command rules: with echo off the line cannot be checked'
      : 'the allow-list (no rule allows it)';
  return `\r\n\x1b[1;31mwarden: command blocked by ${which}\x1b[0m\r\n`;
}
