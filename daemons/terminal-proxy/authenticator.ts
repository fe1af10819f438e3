// Where a person is authenticated on the SSH door: ssh2's authentication callbacks reach the core through one
// `ProxyAuthenticator`. The password authenticator below uses the same person-authentication as the web
// (denylist, throttle, lockout, generic failure); the core's SSH authenticator (public keys, smart cards,
// keyboard-interactive second factors) replaces it here without the connection code changing.
import type { AuthContext } from 'ssh2';
import type { Appliance } from '../../appliance/index.js';
import { AuthError } from '../../appliance/errors/index.js';
import { logger } from '../../appliance/log/index.js';

const log = logger('terminal-proxy');

/** The Warden user a connection belongs to once authenticated. */
export interface ProxyPerson {
  userId: number;
  username: string;
}

export interface ProxyAuthenticator {
  /** The methods offered to a client (the answer to its 'none' probe and to every failed attempt). */
  readonly methods: ('password' | 'publickey' | 'keyboard-interactive')[];
  /**
   * Judge one attempt for `wardenUser` (the name parsed out of the login name) from `ip`: the person, or null
   * for a failure. A failure's reason is the core's audit trail's business, never the client's.
   */
  attempt(ctx: AuthContext, wardenUser: string, ip: string): Promise<ProxyPerson | null>;
}

/** Password only, through AuthService.authenticatePerson; accounts that need more are refused for now. */
export class PasswordAuthenticator implements ProxyAuthenticator {
  readonly methods = ['password' as const];

  constructor(private readonly appliance: Appliance) {}

  async attempt(ctx: AuthContext, wardenUser: string, ip: string): Promise<ProxyPerson | null> {
    if (ctx.method !== 'password') return null;
    try {
      const { person } = await this.appliance.auth.authenticatePerson({ username: wardenUser, password: ctx.password, ip, protocol: 'ssh' }, async () => undefined);
      // A second factor cannot be asked here yet, and a one-time password must be changed on the web first:
      // the same generic failure, the precise reason in the trail.
      const reason = person.mfaRequired ? `second factor ${person.mfaRequired} required` : person.user.must_change_password ? 'password change required' : null;
      if (reason) {
        await this.appliance.sessions.recordRefusedLogin({ username: person.user.username, source: ip, protocol: 'ssh', reason });
        return null;
      }
      return { userId: person.user.id, username: person.user.username };
    } catch (e) {
      if (!(e instanceof AuthError)) log.warn('authentication failed unexpectedly', { error: (e as Error).message });
      return null;
    }
  }
}
