// Password hashing with Argon2id (@node-rs/argon2, run on libuv's thread pool so the event loop never waits).
// Stored form: the PHC string $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$salt$hash, so the cost can rise later
// and old hashes still verify. Hashes of the earlier form scrypt$N$r$p$salt$hash still verify, and
// needsRehash() says yes to them so the next successful login replaces them.
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { Algorithm, Version, hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import type { Argon2Cost, ScryptCost } from '../config/index.js';

const KEY_LEN = 32;
const SALT_LEN = 16;

/**
 * Bounds a stored hash may ask for: a row is trusted data, but a corrupted or planted parameter must not make
 * one login allocate gigabytes or run for minutes. Wide enough for any cost the config accepts.
 */
const ARGON2_LIMITS = { memoryKiB: 4 * 1024 * 1024, iterations: 64, parallelism: 16 };

/**
 * Hashes run on libuv's thread pool (UV_THREADPOOL_SIZE threads, 4 unless set), which file I/O shares: the WAL
 * flush that every durable commit awaits among it. With every thread hashing and more hashes queued, a flush
 * would wait for the queue to drain, and a login for two queues. So hashes take at most all threads but one
 * (in order of arrival), and the flush always finds one. The pool's size is read once: libuv reads it once.
 */
const HASH_SLOTS = Math.max(1, (Number(process.env.UV_THREADPOOL_SIZE) || 4) - 1);

class HashSlots {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  constructor(slots: number) {
    this.free = slots;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await work();
    } finally {
      // The slot passes straight to the next in line, so a newcomer cannot overtake the queue.
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}

const hashSlots = new HashSlots(HASH_SLOTS);

function argon2Options(cost: Argon2Cost): { algorithm: Algorithm; version: Version; memoryCost: number; timeCost: number; parallelism: number; outputLen: number } {
  return { algorithm: Algorithm.Argon2id, version: Version.V0x13, memoryCost: cost.memoryKiB, timeCost: cost.iterations, parallelism: cost.parallelism, outputLen: KEY_LEN };
}

export async function hashPassword(password: string, cost: Argon2Cost): Promise<string> {
  const pw = Buffer.from(password, 'utf8');
  try {
    return await hashSlots.run(() => argon2Hash(pw, { ...argon2Options(cost), salt: randomBytes(SALT_LEN) }));
  } finally {
    pw.fill(0);
  }
}

// PHC as the reference implementation writes it (m, t, p in this order; unpadded base64): only Argon2id v1.3.
const ARGON2ID = /^\$argon2id\$v=19\$m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,3})\$([A-Za-z0-9+/]{11,})\$([A-Za-z0-9+/]{43})$/;

function parseArgon2(stored: string): Argon2Cost | undefined {
  const m = ARGON2ID.exec(stored);
  if (!m) return undefined;
  const cost = { memoryKiB: Number(m[1]), iterations: Number(m[2]), parallelism: Number(m[3]) };
  if (cost.iterations < 1 || cost.parallelism < 1 || cost.memoryKiB < 8 * cost.parallelism) return undefined;
  if (cost.memoryKiB > ARGON2_LIMITS.memoryKiB || cost.iterations > ARGON2_LIMITS.iterations || cost.parallelism > ARGON2_LIMITS.parallelism) return undefined;
  return cost;
}

// --- the earlier scrypt form, verify only ---

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

interface ParsedScrypt {
  cost: ScryptCost;
  salt: Buffer;
  key: Buffer;
}

function parseScrypt(stored: string): ParsedScrypt | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [n, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (![n, r, p].every((x) => Number.isInteger(x) && x > 0)) return undefined;
  if ((n & (n - 1)) !== 0 || n > 1 << 20 || r > 32 || p > 16) return undefined;
  const parsed = { cost: { cost: n, blockSize: r, parallelization: p }, salt: Buffer.from(parts[4]!, 'base64'), key: Buffer.from(parts[5]!, 'base64') };
  return parsed.key.length === KEY_LEN ? parsed : undefined;
}

/** Constant-time comparison (inside the binding for Argon2id); a malformed stored hash never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const argon2 = parseArgon2(stored);
  const legacy = argon2 ? undefined : parseScrypt(stored);
  if (!argon2 && !legacy) return false;
  const pw = Buffer.from(password, 'utf8');
  try {
    if (argon2) return await hashSlots.run(() => argon2Verify(stored, pw));
    const key = await hashSlots.run(() => scrypt(pw, legacy!.salt, legacy!.cost));
    return timingSafeEqual(key, legacy!.key);
  } catch {
    // The binding rejects what it cannot decode; to the caller that is a hash that does not match.
    return false;
  } finally {
    pw.fill(0);
  }
}

/** True if `stored` is not an Argon2id hash of exactly `cost` (an scrypt hash always is): read from the string, no hashing. */
export function needsRehash(stored: string, cost: Argon2Cost): boolean {
  const parsed = parseArgon2(stored);
  return !parsed || parsed.memoryKiB !== cost.memoryKiB || parsed.iterations !== cost.iterations || parsed.parallelism !== cost.parallelism;
}

/** The hash scheme of a stored hash, for the audit trail (never the hash itself). */
export function hashScheme(stored: string): 'argon2id' | 'scrypt' | 'unknown' {
  if (parseArgon2(stored)) return 'argon2id';
  return parseScrypt(stored) ? 'scrypt' : 'unknown';
}

/**
 * A hash of a random password with the current cost, verified against when the user does not exist,
 * so an unknown name costs the same time as a wrong password.
 */
export class DecoyHash {
  private value: Promise<string> | undefined;
  constructor(private readonly cost: Argon2Cost) {}
  get(): Promise<string> {
    this.value ??= hashPassword(randomBytes(18).toString('base64'), this.cost);
    return this.value;
  }
}
