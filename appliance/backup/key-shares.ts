// Custodian shares of the master key (Shamir's scheme via shamir-secret-sharing, an audited library):
// k of n shares rebuild the 32 bytes; fewer reveal nothing. Each share is a small text file a custodian
// keeps (or prints): which appliance, which share of how many, the threshold, and a checksum that catches
// a mistyped or damaged share before any arithmetic.
import { createHash } from 'node:crypto';
import { split, combine } from 'shamir-secret-sharing';
import { InputError, WardenError } from '../errors/index.js';

const HEADER = 'WARDEN MASTER KEY SHARE v1';

export interface ShareInfo {
  applianceId: string;
  index: number;
  total: number;
  threshold: number;
  share: Buffer;
}

function checksum(share: Buffer, applianceId: string): string {
  return createHash('sha256').update(applianceId).update(share).digest('hex').slice(0, 16);
}

export async function splitMasterKey(material: Buffer, opts: { custodians: number; threshold: number; applianceId: string }): Promise<string[]> {
  const { custodians, threshold } = opts;
  if (!Number.isInteger(threshold) || threshold < 2) throw new InputError('the threshold must be at least 2');
  if (!Number.isInteger(custodians) || custodians < threshold || custodians > 255) throw new InputError('custodians must be at least the threshold and at most 255');
  const shares = await split(new Uint8Array(material), custodians, threshold);
  return shares.map((s, i) => {
    const share = Buffer.from(s);
    return [
      HEADER,
      `appliance: ${opts.applianceId}`,
      `share: ${i + 1} of ${custodians}`,
      `threshold: ${threshold}`,
      `data: ${share.toString('base64')}`,
      `checksum: ${checksum(share, opts.applianceId)}`,
      '',
      `Keep this file offline. Any ${threshold} of the ${custodians} shares rebuild the appliance's master key.`,
      '',
    ].join('\n');
  });
}

export function parseShare(text: string): ShareInfo {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  if (lines[0] !== HEADER) throw new InputError('not a Warden master key share');
  const field = (name: string) => {
    const line = lines.find((l) => l.startsWith(`${name}: `));
    if (!line) throw new InputError(`the share has no ${name} line`);
    return line.slice(name.length + 2);
  };
  const m = /^(\d+) of (\d+)$/.exec(field('share'));
  const threshold = Number(field('threshold'));
  if (!m || !Number.isInteger(threshold)) throw new InputError('the share header is damaged');
  const share = Buffer.from(field('data'), 'base64');
  const applianceId = field('appliance');
  if (checksum(share, applianceId) !== field('checksum')) throw new InputError(`share ${m[1]} is damaged (checksum mismatch)`);
  return { applianceId, index: Number(m[1]), total: Number(m[2]), threshold, share };
}

/** Rebuild the master key from share texts: same appliance, distinct shares, at least the threshold. */
export async function combineShares(texts: string[], applianceId?: string): Promise<Buffer> {
  const shares = texts.map(parseShare);
  if (shares.length === 0) throw new InputError('no shares given');
  const id = applianceId ?? shares[0]!.applianceId;
  for (const s of shares) if (s.applianceId !== id) throw new InputError(`share ${s.index} belongs to appliance ${s.applianceId}, not ${id}`);
  const distinct = new Map(shares.map((s) => [s.index, s]));
  const threshold = Math.max(...shares.map((s) => s.threshold));
  if (distinct.size < threshold) throw new WardenError('INPUT_INVALID', `${threshold} different shares are needed; ${distinct.size} given`);
  const material = Buffer.from(await combine([...distinct.values()].map((s) => new Uint8Array(s.share))));
  if (material.length !== 32) throw new InputError('the shares do not rebuild a 32-byte key');
  return material;
}
