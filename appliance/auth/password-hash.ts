// Password hashing with scrypt (node:crypto, memory-hard, no native dependency beyond OpenSSL).
// Stored form: scrypt$N$r$p$salt$hash (base64), so the cost can rise later and old hashes still verify.
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { ScryptCost } from '../config/index.js';

const KEY_LEN = 32;
const SALT_LEN = 16;

function scrypt(password: Buffer, salt: Buffer, cost: ScryptCost): Promise<Buffer> {
  const options: ScryptOptions = {
    N: cost.cost,
    r: cost.blockSize,
    p: cost.parallelization,
    // scrypt needs 128·N·r bytes; allow twice that so a raised cost does not trip OpenSSL's default cap.
    maxmem: 256 * cost.cost * cost.blockSize + 1024 * 1024,
  };
  return new Promise((resolve, reject) => {
    scryptCb(password, salt, KEY_LEN, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashPassword(password: string, cost: ScryptCost): Promise<string> {
  const salt = randomBytes(SALT_LEN);
  const pw = Buffer.from(password, 'utf8');
  try {
    const key = await scrypt(pw, salt, cost);
    return `scrypt$${cost.cost}$${cost.blockSize}$${cost.parallelization}$${salt.toString('base64')}$${key.toString('base64')}`;
  } finally {
    pw.fill(0);
  }
}

interface ParsedHash {
  cost: ScryptCost;
  salt: Buffer;
  key: Buffer;
}

function parse(stored: string): ParsedHash | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [n, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (![n, r, p].every((x) => Number.isInteger(x) && x > 0)) return undefined;
  return { cost: { cost: n, blockSize: r, parallelization: p }, salt: Buffer.from(parts[4]!, 'base64'), key: Buffer.from(parts[5]!, 'base64') };
}

/** Constant-time comparison; a malformed stored hash never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parse(stored);
  if (!parsed || parsed.key.length !== KEY_LEN) return false;
  const pw = Buffer.from(password, 'utf8');
  try {
    const key = await scrypt(pw, parsed.salt, parsed.cost);
    return timingSafeEqual(key, parsed.key);
  } finally {
    pw.fill(0);
  }
}

export function needsRehash(stored: string, cost: ScryptCost): boolean {
  const parsed = parse(stored);
  return !parsed || parsed.cost.cost !== cost.cost || parsed.cost.blockSize !== cost.blockSize || parsed.cost.parallelization !== cost.parallelization;
}

/**
 * A hash of a random password with the current cost, verified against when the user does not exist,
 * so an unknown name costs the same time as a wrong password.
 */
export class DecoyHash {
  private value: Promise<string> | undefined;
  constructor(private readonly cost: ScryptCost) {}
  get(): Promise<string> {
    this.value ??= hashPassword(randomBytes(18).toString('base64'), this.cost);
    return this.value;
  }
}
