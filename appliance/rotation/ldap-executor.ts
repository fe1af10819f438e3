// Rotation of LDAP directory accounts with the Password Modify extended operation (RFC 3062), over ldapts: the
// server hashes and stores the new password by its own policy (OpenLDAP, 389-ds and others implement it). The
// credential's user name is the account's DN. The connection is TLS before any bind — LDAPS, or StartTLS on
// plain LDAP — because a simple bind and the operation carry passwords; the server's certificate is pinned
// like an SSH host key (`ldap`, trust on first use) and checked before the first password is sent: the TLS
// connection is opened by an anonymous read of the root DSE (no credentials), the pin checked, then the bind.
// The account changes its own password (bound as itself, old and new in the request); a change account (an
// administrator's DN, with write access to userPassword) sets another's (its DN and the new password).
// Active Directory's unicodePwd is not this operation and is not done here.
import tls from 'node:tls';
import { BerWriter, Client, InvalidCredentialsError, ResultCodeError } from 'ldapts';
import { RotationError, targetSaid, type ChangeAccount, type PasswordExecutor, type RotationTarget } from './ssh-executor.js';
import { tlsCertificateFingerprint } from './certificate-pin.js';

/** RFC 3062's OID. */
const PASSWORD_MODIFY = '1.3.6.1.4.1.4203.1.11.1';

function said(e: unknown, ...secrets: Buffer[]): string {
  let m = e instanceof Error ? e.message : String(e);
  // ldapts's result errors say little beyond their class ("InsufficientAccessError", " Code: 0x32"): both, plainly.
  if (e instanceof ResultCodeError) m = `${e.name.replace(/Error$/, '').replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()} (LDAP result ${e.code})${/^\s*Code: 0x[0-9a-f]+\s*$/i.test(e.message) ? '' : `: ${e.message.trim()}`}`;
  return targetSaid(m, ...secrets);
}

/** PasswdModifyRequestValue ::= SEQUENCE { userIdentity [0], oldPasswd [1], newPasswd [2] } (each optional). */
function passwordModifyValue(parts: { user?: string; old?: Buffer; next: Buffer }): Buffer {
  const w = new BerWriter();
  w.startSequence();
  if (parts.user !== undefined) w.writeBuffer(Buffer.from(parts.user, 'utf8'), 0x80);
  if (parts.old) w.writeBuffer(parts.old, 0x81);
  w.writeBuffer(parts.next, 0x82);
  w.endSequence();
  return w.buffer;
}

export class LdapExecutor implements PasswordExecutor {
  readonly name = 'ldap-password-modify';
  static readonly pinProtocol = 'ldap' as const;

  constructor(
    private readonly timeoutMs = 20_000,
    /** LDAPS (636-style) or plain LDAP upgraded with StartTLS. */
    private readonly mode: 'ldaps' | 'starttls' = 'ldaps',
  ) {}

  /** A client bound as `dn`, over TLS whose certificate matches the pinned one (first use pins), or why not. */
  private async bound(target: RotationTarget, dn: string, secret: Buffer, refused: 'current-password-refused' | 'change-account-refused'): Promise<Client> {
    let socket: tls.TLSSocket | undefined;
    const client = new Client({
      url: `${this.mode === 'ldaps' ? 'ldaps' : 'ldap'}://${target.address.includes(':') ? `[${target.address}]` : target.address}:${target.port}`,
      timeout: this.timeoutMs,
      connectTimeout: this.timeoutMs,
      // Encrypted always; who the server is, is the pin's job (below). The socket is kept to read its certificate.
      // (For StartTLS the options go to startTLS: ldapts given tlsOptions on an ldap:// URL fails the upgrade.)
      ...(this.mode === 'ldaps' ? { tlsOptions: { rejectUnauthorized: false } } : {}),
      // Called as tls.connect is (port, host, options for LDAPS; options for StartTLS): passed through as given.
      createSecureConnection: ((...args: Parameters<typeof tls.connect>) => {
        socket = (tls.connect as (...a: unknown[]) => tls.TLSSocket)(...args);
        return socket;
      }) as typeof tls.connect,
    });
    try {
      if (this.mode === 'starttls') await client.startTLS({ rejectUnauthorized: false });
      else {
        // Opens the connection without a credential; a refusal of the read itself does not matter.
        await client.search('', { scope: 'base', attributes: ['1.1'] }).catch(() => undefined);
      }
      const raw = socket?.getPeerCertificate()?.raw;
      if (!raw) throw new RotationError('target-unreachable', 'the directory offers no TLS: a password would cross the network in clear');
      if ((await target.checkHostKey(tlsCertificateFingerprint(raw))) === 'mismatch') throw new RotationError('host-key-mismatch');
      try {
        // ldapts takes the password as a string: held for this one bind.
        await client.bind(dn, secret.toString('utf8'));
      } catch (e) {
        if (e instanceof InvalidCredentialsError) throw new RotationError(refused);
        throw e;
      }
      return client;
    } catch (e) {
      await client.unbind().catch(() => undefined);
      if (e instanceof RotationError) throw e;
      const message = (e as Error).message ?? '';
      if (/timeout|timed out/i.test(message)) throw new RotationError('target-timeout');
      throw new RotationError('target-unreachable', said(e, secret));
    }
  }

  async verify(target: RotationTarget, secret: Buffer): Promise<boolean> {
    try {
      await (await this.bound(target, target.username, secret, 'current-password-refused')).unbind();
      return true;
    } catch (e) {
      if (e instanceof RotationError && e.reason === 'current-password-refused') return false;
      throw e;
    }
  }

  private async modify(client: Client, value: Buffer, ...secrets: Buffer[]): Promise<void> {
    try {
      await client.exop(PASSWORD_MODIFY, value);
    } catch (e) {
      throw new RotationError('change-refused', said(e, ...secrets));
    } finally {
      value.fill(0);
      await client.unbind().catch(() => undefined);
    }
  }

  async change(target: RotationTarget, current: Buffer, next: Buffer): Promise<void> {
    const client = await this.bound(target, target.username, current, 'current-password-refused');
    // Bound as the account: no identity, the old password as the server's policy may ask for it.
    await this.modify(client, passwordModifyValue({ old: current, next }), current, next);
  }

  async reset(target: RotationTarget, changer: ChangeAccount, next: Buffer): Promise<void> {
    if (changer.secretKind !== 'password') throw new RotationError('change-account-refused', 'a directory change account binds with a password');
    const client = await this.bound(target, changer.username, changer.secret, 'change-account-refused');
    await this.modify(client, passwordModifyValue({ user: target.username, next }), changer.secret, next);
  }
}
