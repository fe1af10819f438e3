// The deployer's console account `orbit`: its password lives in /etc/shadow like any account's (SHA-512
// crypt, which PAM's pam_unix and `passwd` understand too), and its login shell is the orbit console.
// Hashing and checking go through `openssl passwd` (OpenSSL's sha-crypt, on the image anyway) rather than
// a hand-made crypt: one implementation for setting and checking, the same under --root as on the image.
import { spawn } from 'node:child_process';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { WardenError } from '../../../appliance/errors/index.js';
import { replaceFile } from '../../../appliance/config/index.js';

export const CONSOLE_ACCOUNT = 'orbit';
export const CONSOLE_SHELL = '/usr/local/bin/orbit-shell';
/** sha-crypt work factor: about half a second per check on this class of machine (glibc's default is 5,000). */
export const CONSOLE_HASH_ROUNDS = 500_000;
export const CONSOLE_PASSWORD_MIN_LENGTH = 12;

/** A path inside the system tree at `root` ('/' on the appliance). */
export function underRoot(root: string, file: string): string {
  return path.join(root, file);
}

/** Why `password` cannot be the console password, or undefined if it can. */
export function consolePasswordProblem(password: string): string | undefined {
  if (password.length < CONSOLE_PASSWORD_MIN_LENGTH) return `the console password needs at least ${CONSOLE_PASSWORD_MIN_LENGTH} characters`;
  // openssl reads the password as one line; a control character would also be untypeable at a console.
  if (/[\x00-\x1f\x7f]/.test(password)) return 'the console password may not contain control characters';
  if (password.toLowerCase().includes(CONSOLE_ACCOUNT)) return `the console password may not contain the account name "${CONSOLE_ACCOUNT}"`;
  return undefined;
}

function opensslPasswd(password: string, salt: string, scheme: '5' | '6'): Promise<string> {
  return new Promise((resolve, reject) => {
    // The password goes on stdin, never on the command line (where ps would show it).
    const p = spawn('openssl', ['passwd', `-${scheme}`, '-salt', salt, '-stdin'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`openssl passwd failed: ${err.trim()}`))));
    p.stdin.end(`${password}\n`);
  });
}

export async function hashConsolePassword(password: string): Promise<string> {
  const problem = consolePasswordProblem(password);
  if (problem) throw new WardenError('INPUT_INVALID', problem);
  // 16 characters of the crypt alphabet ([./0-9A-Za-z]): base64 without its two symbols, which crypt does not use.
  const salt = randomBytes(16).toString('base64').replace(/[+/=]/g, '.').slice(0, 16);
  return opensslPasswd(password, `rounds=${CONSOLE_HASH_ROUNDS}$${salt}`, '6');
}

interface ShadowEntry {
  lines: string[];
  index: number;
  fields: string[];
}

function readShadow(root: string, user: string): ShadowEntry | undefined {
  const file = underRoot(root, '/etc/shadow');
  if (!existsSync(file)) return undefined;
  const lines = readFileSync(file, 'utf8').split('\n');
  const index = lines.findIndex((l) => l.split(':')[0] === user);
  if (index < 0) return undefined;
  return { lines, index, fields: lines[index]!.split(':') };
}

/**
 * Whether `password` is `user`'s password in ROOT/etc/shadow. Only sha-crypt hashes ($5$, $6$) are checked;
 * a locked account (`!…`), an empty hash or any other scheme is a refusal.
 */
export async function verifyAccountPassword(root: string, user: string, password: string): Promise<boolean> {
  const entry = readShadow(root, user);
  const stored = entry?.fields[1] ?? '';
  const m = /^\$([56])\$((?:rounds=\d+\$)?[^$]{1,16})\$[./0-9A-Za-z]+$/.exec(stored);
  if (!m || /[\x00-\x1f\x7f]/.test(password)) {
    // The same work as a real check, so the answer's timing does not tell a locked account from a wrong password.
    await opensslPasswd(password.replace(/[\x00-\x1f\x7f]/g, ''), `rounds=${CONSOLE_HASH_ROUNDS}$timingonly`, '6').catch(() => '');
    return false;
  }
  const computed = await opensslPasswd(password, m[2]!, m[1] as '5' | '6');
  const a = Buffer.from(computed);
  const b = Buffer.from(stored);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The problem with the console account in ROOT's passwd database, or undefined if it is ready for a password. */
export function consoleAccountProblem(root: string): string | undefined {
  const passwd = underRoot(root, '/etc/passwd');
  const line = existsSync(passwd) ? readFileSync(passwd, 'utf8').split('\n').find((l) => l.split(':')[0] === CONSOLE_ACCOUNT) : undefined;
  if (!line) return `there is no "${CONSOLE_ACCOUNT}" account in ${passwd} (the image creates it with sysusers.d)`;
  if (line.split(':')[6] !== CONSOLE_SHELL) return `the "${CONSOLE_ACCOUNT}" account's login shell in ${passwd} is not ${CONSOLE_SHELL}`;
  if (!readShadow(root, CONSOLE_ACCOUNT)) return `there is no "${CONSOLE_ACCOUNT}" entry in ${underRoot(root, '/etc/shadow')}`;
  return undefined;
}

/**
 * Set the console account's password (and register its shell in /etc/shells, which chsh and some PAM
 * stacks consult). Checks everything first: on a refusal nothing is written.
 */
export async function setConsolePassword(root: string, password: string, now = Date.now()): Promise<void> {
  const problem = consoleAccountProblem(root);
  if (problem) throw new WardenError('INPUT_INVALID', problem);
  const hash = await hashConsolePassword(password);
  const entry = readShadow(root, CONSOLE_ACCOUNT)!;
  const fields = [...entry.fields];
  while (fields.length < 9) fields.push('');
  fields[1] = hash;
  fields[2] = String(Math.floor(now / 86_400_000)); // last change, in days since 1970
  const lines = [...entry.lines];
  lines[entry.index] = fields.join(':');
  // All at once, keeping the old file's owner and mode (shadow is root:shadow 0640).
  const shadow = underRoot(root, '/etc/shadow');
  replaceFile(shadow, lines.join('\n'), { mode: 0o640, like: [shadow] });
  const shells = underRoot(root, '/etc/shells');
  const listed = existsSync(shells) ? readFileSync(shells, 'utf8') : '';
  if (!listed.split('\n').includes(CONSOLE_SHELL)) {
    replaceFile(shells, `${listed}${listed === '' || listed.endsWith('\n') ? '' : '\n'}${CONSOLE_SHELL}\n`, { mode: 0o644, like: [shells] });
  }
}
