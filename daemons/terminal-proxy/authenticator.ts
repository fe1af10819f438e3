// Where a person is authenticated on the SSH door: ssh2's authentication callbacks reach the core's ProxyLogin
// (appliance.proxyLogins) through one `ConnectionLogin` per connection. The core decides everything — which
// factors the account needs, lockout, throttle, denylist, the audit rows with protocol 'ssh'; this file only
// maps SSH onto it: what is due → which SSH methods to offer, each SSH request → one ProxyLogin step.
//
//   due          offered SSH methods
//   (nothing)    publickey, keyboard-interactive, password
//   password     password, keyboard-interactive (OpenSSH with sshpass uses either)
//   totp         keyboard-interactive ("Verification code")
//   certificate  publickey (the smart card's key)
//
// A step that is right but not the last answers SSH's "partial success"; a failure is SSH's plain failure with
// nothing that says why. The core's notice (a right factor this door cannot finish with: Duo, a password to
// change first) is shown only when the core gives one.
import type { AuthContext, Connection, KeyboardAuthContext } from 'ssh2';
import { createRequire } from 'node:module';
import type { Appliance } from '../../appliance/index.js';
import type { ProxyAuthentication, ProxyLogin, ProxyStep } from '../../appliance/auth/index.js';
import { AuthError } from '../../appliance/errors/index.js';
import { logger } from '../../appliance/log/index.js';

const log = logger('terminal-proxy');

export type SshAuthMethod = 'password' | 'publickey' | 'keyboard-interactive';

/** The Warden user a connection belongs to once authenticated, and how (the forced-certificate gate reads it). */
export interface ProxyPerson {
  userId: number;
  username: string;
  authentication: ProxyAuthentication;
}

/** What the connection does with one SSH authentication request. */
export type AuthAnswer =
  | { outcome: 'success'; person: ProxyPerson }
  /** A publickey request without a signature whose key would do: ssh2's `ctx.accept()` sends PK_OK. */
  | { outcome: 'acceptable' }
  /** A right factor, more are due: SSH failure with partial success. */
  | { outcome: 'continue' }
  /** `counted`: an attempt (the connection's limit), unlike a method not offered now. */
  | { outcome: 'failure'; counted: boolean };

export interface ConnectionLogin {
  /** The SSH methods to offer now (the answer to 'none' and to every failure). */
  methods(): SshAuthMethod[];
  /** Judge one request for `wardenUser` (parsed out of `ctx.username`). Never accepts or rejects `ctx` itself. */
  /** Judged one at a time; `open` is asked when the attempt's turn comes (false: dropped unjudged). */
  attempt(ctx: AuthContext, wardenUser: string, open?: () => boolean): Promise<AuthAnswer>;
}

export interface ProxyAuthenticator {
  /** One login per client connection, from `ip`. */
  begin(client: Connection, ip: string): ConnectionLogin;
}

const PASSWORD_PROMPT = 'Password: ';
const CODE_PROMPT = 'Verification code: ';

/** The core's SSH person authentication (AuthService through ProxyLogin), driven from ssh2's callbacks. */
export class CoreAuthenticator implements ProxyAuthenticator {
  constructor(private readonly appliance: Appliance) {}

  begin(client: Connection, ip: string): ConnectionLogin {
    return new SshLogin(this.appliance, client, ip);
  }
}

/** The answer to an attempt that came after the connection stopped taking them: nothing judged, nothing counted. */
const CLOSED: AuthAnswer = { outcome: 'failure', counted: false };

class SshLogin implements ConnectionLogin {
  private login: ProxyLogin | undefined;
  /** The login name of the first request: SSH lets a client change it between requests; Warden does not. */
  private pinned: string | undefined;
  /** One step at a time: a keyboard-interactive exchange lets ssh2 hand over the next request before it ends. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly appliance: Appliance,
    private readonly client: Connection,
    private readonly ip: string,
  ) {}

  methods(): SshAuthMethod[] {
    switch (this.login?.due) {
      case 'certificate':
        return ['publickey'];
      case 'totp':
        return ['keyboard-interactive'];
      case 'password':
        return ['password', 'keyboard-interactive'];
      default:
        return ['publickey', 'keyboard-interactive', 'password'];
    }
  }

  attempt(ctx: AuthContext, wardenUser: string, open: () => boolean = () => true): Promise<AuthAnswer> {
    // Whether the connection still takes attempts is asked when this one's turn comes, not when it arrived: an
    // attempt queued behind the one that used up the connection's allowance is never judged (nor audited).
    const run = this.queue.then(() => (open() ? this.judge(ctx, wardenUser) : CLOSED));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async judge(ctx: AuthContext, wardenUser: string): Promise<AuthAnswer> {
    this.pinned ??= ctx.username;
    if (ctx.username !== this.pinned) {
      log.info('login name changed between authentication requests: refused', { source: this.ip });
      return { outcome: 'failure', counted: true };
    }
    const login = (this.login ??= this.appliance.proxyLogins.begin({ username: wardenUser, ip: this.ip, protocol: 'ssh' }));
    if (ctx.method === 'none' || !this.methods().includes(ctx.method as SshAuthMethod)) return { outcome: 'failure', counted: false };
    try {
      switch (ctx.method) {
        case 'password':
          return this.answer(await login.password(ctx.password), null);
        case 'publickey': {
          const step = await login.publicKey(ctx.key, ctx.signature ? { blob: ctx.blob!, signature: ctx.signature, ...(ctx.hashAlgo ? { hashAlgo: ctx.hashAlgo } : {}) } : undefined);
          // 'acceptable' only answers the query (no signature yet): it logs nobody in.
          if (step.outcome === 'acceptable') return ctx.signature ? { outcome: 'failure', counted: true } : { outcome: 'acceptable' };
          return this.answer(step, null);
        }
        case 'keyboard-interactive': {
          const code = login.due === 'totp';
          const response = await prompt(ctx, code ? CODE_PROMPT : PASSWORD_PROMPT);
          // The client gave up on this exchange (a new request replaced it): nothing was presented.
          if (response === null) return { outcome: 'failure', counted: false };
          return this.answer(code ? await login.totp(response) : await login.password(response), ctx);
        }
        default:
          return { outcome: 'failure', counted: false };
      }
    } catch (e) {
      if (!(e instanceof AuthError)) log.warn('authentication failed unexpectedly', { error: (e as Error).message });
      return { outcome: 'failure', counted: true };
    }
  }

  private async answer(step: ProxyStep, ctx: KeyboardAuthContext | null): Promise<AuthAnswer> {
    if (step.outcome === 'success') {
      const authentication = step.authentication;
      return { outcome: 'success', person: { userId: authentication.userId, username: authentication.username, authentication } };
    }
    if (step.outcome === 'continue') return { outcome: 'continue' };
    if (step.notice) {
      if (ctx) await prompt(ctx, null, step.notice);
      else sendBanner(this.client, step.notice);
    }
    return { outcome: 'failure', counted: true };
  }
}

/**
 * One keyboard-interactive round: the answer to `question` (not echoed), or, with no question, just shows
 * `instructions` (OpenSSH prints them) and waits for the empty answer. null when the exchange was abandoned.
 */
function prompt(ctx: KeyboardAuthContext, question: string | null, instructions?: string): Promise<string | null> {
  return new Promise((resolve) => {
    // ssh2 calls back with an Error instead of answers when a new request aborts the exchange.
    ctx.prompt(question === null ? [] : [{ prompt: question, echo: false }], 'Warden', instructions ?? '', (answers: string[]) => {
      if (!Array.isArray(answers)) return resolve(null);
      resolve(question === null ? '' : typeof answers[0] === 'string' ? answers[0] : null);
    });
  });
}

// ssh2 sends a USERAUTH_BANNER only once, from its `banner` option, when the client starts authenticating;
// RFC 4252 allows one at any time before success, and that is the one place the 'password' method can carry
// the core's notice. ssh2 (1.17) has no public call for it, so this writes the message through its protocol
// object the way ssh2 writes its own banner; if those internals are not there, the notice is simply not shown.
const ssh2Internals = (() => {
  try {
    return createRequire(import.meta.url)('ssh2/lib/protocol/utils.js') as { sendPacket?: (proto: unknown, packet: Buffer) => void };
  } catch {
    return {};
  }
})();
const USERAUTH_BANNER = 53;

interface Ssh2Protocol {
  _packetRW?: { write?: { allocStart: number; alloc: (n: number) => Buffer; finalize: (b: Buffer) => Buffer } };
}

function sendBanner(client: Connection, text: string): void {
  const proto = (client as unknown as { _protocol?: Ssh2Protocol })._protocol;
  const writer = proto?._packetRW?.write;
  if (!writer || typeof ssh2Internals.sendPacket !== 'function') return;
  const message = Buffer.from(text.endsWith('\r\n') ? text : `${text}\r\n`, 'utf8');
  let p = writer.allocStart;
  const packet = writer.alloc(1 + 4 + message.length + 4);
  packet[p] = USERAUTH_BANNER;
  packet.writeUInt32BE(message.length, ++p);
  message.copy(packet, (p += 4));
  packet.writeUInt32BE(0, p + message.length); // empty language tag
  try {
    ssh2Internals.sendPacket(proto, writer.finalize(packet));
  } catch (e) {
    log.debug('could not send the notice as a banner', { error: (e as Error).message });
  }
}
