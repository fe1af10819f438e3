// SSH-key rotation on Linux/Unix, no agent on the target: a new key pair is made here (the old key's family:
// Ed25519, or RSA 3072 / ECDSA of the same size for targets that take no Ed25519), its public line is added to
// the account's ~/.ssh/authorized_keys over a login with the current key, the new key is proved by a login of its
// own, and only then the old key's line is removed (over the new key's login) and the old key tried once more, to
// say whether it was really revoked. Key material goes to the target on standard input, never on a command line.
// Key generation is ssh2's (which writes the OpenSSH private-key format the proxies read); the rest is two short
// shell lines, because no library edits a remote authorized_keys file.
import { promisify } from 'node:util';
import ssh2 from 'ssh2';
import { RotationError, loginAs, runCommand, type RotationTarget } from './ssh-executor.js';

/** A new key pair: the private key as the vault keeps it (OpenSSH format), the public line authorized_keys takes. */
export interface NewKey {
  privateKey: Buffer;
  publicLine: string;
  /** The public key blob in base64: what identifies its line in authorized_keys. */
  blob: string;
}

/** One way of rotating an SSH key on one kind of target (authorized_keys over SSH today). */
export interface KeyExecutor {
  readonly name: string;
  /** A key pair of the same family as `current` (a private key), commented `comment`. */
  newKey(current: Buffer, comment: string): Promise<NewKey>;
  /** Add `key`'s public line to the account's authorized keys, logged in with `current`; RotationError otherwise. */
  authorize(target: RotationTarget, current: Buffer, key: NewKey): Promise<void>;
  /** Remove every authorized line of the key whose blob is `blob`, logged in with `loginKey`; RotationError otherwise. */
  revoke(target: RotationTarget, loginKey: Buffer, blob: string): Promise<void>;
  /** Whether `privateKey` logs the account in now (false: refused); RotationError when the target cannot be asked. */
  verifyKey(target: RotationTarget, privateKey: Buffer): Promise<boolean>;
}

/** The base64 blob of a private key's public half, or undefined when ssh2 cannot read the key. */
export function publicBlobOf(privateKey: Buffer): { type: string; blob: string } | undefined {
  const parsed = utils.parseKey(privateKey);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) return undefined;
  return { type: key.type, blob: key.getPublicSSH().toString('base64') };
}

const { utils } = ssh2;
const generate = promisify(utils.generateKeyPair) as unknown as (type: string, opts: { bits?: number; comment?: string }) => Promise<{ private: string; public: string }>;

// Append with a newline first when the file does not end in one (else the new line would join the last).
const AUTHORIZE = 'umask 077; d="$HOME/.ssh"; f="$d/authorized_keys"; mkdir -p "$d" && touch "$f" && chmod 700 "$d" && chmod 600 "$f" && { if [ -s "$f" ] && [ -n "$(tail -c1 "$f")" ]; then echo; fi; cat; } >> "$f"';
// The blob on stdin; the file rewritten in place (cat >), so its owner, mode and any ACL stay.
const REVOKE = 'f="$HOME/.ssh/authorized_keys"; IFS= read -r blob || exit 3; [ -n "$blob" ] || exit 3; [ -f "$f" ] || exit 0; t="$f.warden.$$"; grep -vF -- "$blob" "$f" > "$t"; cat "$t" > "$f" && rm -f "$t"';

export class SshAuthorizedKeysExecutor implements KeyExecutor {
  readonly name = 'ssh-authorized-keys';

  constructor(private readonly timeoutMs = 20_000) {}

  async newKey(current: Buffer, comment: string): Promise<NewKey> {
    const family = publicBlobOf(current)?.type ?? 'ssh-ed25519';
    const [type, bits] = family === 'ssh-rsa' ? ['rsa', 3072] : family.startsWith('ecdsa-sha2-nistp') ? ['ecdsa', Number(family.slice('ecdsa-sha2-nistp'.length))] : ['ed25519', undefined];
    const made = await generate(type as string, { ...(bits ? { bits: bits as number } : {}), comment });
    const privateKey = Buffer.from(made.private, 'utf8');
    const blob = made.public.split(' ')[1]!;
    return { privateKey, publicLine: made.public, blob };
  }

  private login(target: RotationTarget, key: Buffer) {
    return loginAs(target, key, { username: target.username, secretKind: 'ssh-key', refused: 'current-key-refused' }, this.timeoutMs);
  }

  async authorize(target: RotationTarget, current: Buffer, key: NewKey): Promise<void> {
    const client = await this.login(target, current);
    try {
      const r = await runCommand(client, AUTHORIZE, `${key.publicLine}\n`, this.timeoutMs);
      if (r.code !== 0) throw new RotationError('change-refused', r.said || `adding the key exited with ${r.code ?? 'a signal'}`);
    } finally {
      client.end();
    }
  }

  async revoke(target: RotationTarget, loginKey: Buffer, blob: string): Promise<void> {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(blob)) throw new RotationError('change-refused', 'not a key blob');
    const client = await this.login(target, loginKey);
    try {
      const r = await runCommand(client, REVOKE, `${blob}\n`, this.timeoutMs);
      if (r.code !== 0) throw new RotationError('change-refused', r.said || `removing the key exited with ${r.code ?? 'a signal'}`);
    } finally {
      client.end();
    }
  }

  async verifyKey(target: RotationTarget, privateKey: Buffer): Promise<boolean> {
    try {
      (await this.login(target, privateKey)).end();
      return true;
    } catch (e) {
      if (e instanceof RotationError && e.reason === 'current-key-refused') return false;
      throw e;
    }
  }
}
