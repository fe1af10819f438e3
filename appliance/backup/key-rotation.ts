// `orbit backup keys`: a new master key, cut into new custodian shares. The 32 bytes exist in this process
// only between their creation and their import as a non-extractable key; every sealed value in the
// database is re-wrapped from the old key to the new one in a single transaction; the old key is then
// destroyed on the token. Old backups still need the old shares; new backups need the new ones.
// The token work (re-wrapping) happens before the transaction, into memory; the transaction then writes every
// value at once, and only if none changed in between.
import type { Store } from '../store/index.js';
import type { AuditTrail } from '../audit/index.js';
import { Repositories } from '../store/index.js';
import { AUDIT_KEY_META, generateMasterKeyMaterial, type KeyService } from '../keys/index.js';
import { WardenError } from '../errors/index.js';
import { splitMasterKey } from './key-shares.js';

/** Every column that holds a sealed envelope (base64), with its key column (a test checks none is missing). */
export const SEALED = [
  { table: 'credentials', key: 'id', column: 'secret_sealed' },
  // Every secret a credential has held (migration 0020): an older version stays readable after a rotation.
  { table: 'credential_versions', key: 'id', column: 'secret_sealed' },
  { table: 'protected_items', key: 'id', column: 'content_sealed' },
  { table: 'totp_credentials', key: 'user_id', column: 'secret_sealed' },
  { table: 'mfa_providers', key: 'id', column: 'client_secret_sealed' },
  // A recording's data key (version byte and wrapped key, no data): the file itself is never rewritten.
  { table: 'recordings', key: 'id', column: 'key_sealed' },
  { table: 'appliance_meta', key: 'key', column: 'value', where: ['key', 'keys.check'] },
  // The secret nodes sign their internal calls with (appliance/nodes).
  { table: 'appliance_meta', key: 'key', column: 'value', where: ['key', 'cluster.secret.sealed'] },
] as const;

export async function rotateMasterKey(
  deps: { store: Store; keys: KeyService; audit: AuditTrail },
  opts: { custodians: number; threshold: number; actor: string; writeShares: (shares: string[], applianceId: string) => Promise<void> | void; progress?: (line: string) => void },
): Promise<{ from: string; to: string; rewrapped: number }> {
  const say = opts.progress ?? (() => {});
  const applianceId = (await deps.store.repos.meta.get('appliance.id')) ?? 'unknown';
  const material = generateMasterKeyMaterial();
  let labels: { from: string; to: string };
  try {
    // Shares first: if they cannot be written, nothing has changed yet.
    const shares = await splitMasterKey(material, { custodians: opts.custodians, threshold: opts.threshold, applianceId });
    await opts.writeShares(shares, applianceId);
    labels = deps.keys.beginRotation(material);
  } finally {
    material.fill(0);
  }
  say(`re-wrapping every sealed value from ${labels.from} to ${labels.to}`);
  let rewrapped = 0;
  try {
    rewrapped = await rewrapEverything(deps, say);
  } catch (e) {
    deps.keys.abortRotation();
    throw e;
  }
  deps.keys.finishRotation();
  await deps.audit.record({ type: 'keys.rotate', outcome: 'success', actor: opts.actor, subject: labels.to, detail: { from: labels.from, rewrapped, custodians: opts.custodians, threshold: opts.threshold } });
  return { ...labels, rewrapped };
}

type SealedDb = import('kysely').Kysely<Record<string, Record<string, string | number>>>;

interface SealedValue {
  column: (typeof SEALED)[number];
  key: string | number;
  value: string;
}

/** Every sealed value now, by column and row key. */
async function readSealed(db: SealedDb): Promise<Map<string, SealedValue>> {
  const out = new Map<string, SealedValue>();
  for (const [i, s] of SEALED.entries()) {
    // Table and column names come from the constant list above, never from input.
    let q = db.selectFrom(s.table).select([`${s.key} as k`, `${s.column} as v`]);
    if ('where' in s) q = q.where(s.where[0], '=', s.where[1]);
    for (const row of await q.execute()) {
      const value = String(row.v ?? '');
      if (value !== '') out.set(`${i}/${String(row.k)}`, { column: s, key: row.k!, value });
    }
  }
  return out;
}

/** Thrown in the writing transaction when a sealed value changed after it was re-wrapped. */
class ChangedMeanwhile extends Error {}

const REWRAP_ATTEMPTS = 3;

/**
 * Re-wrap every sealed value under the next master key, all or nothing. The token work runs first, outside
 * any transaction; the one writing transaction then checks that every value is still the one re-wrapped (a
 * value sealed or changed meanwhile would otherwise stay under the old key, which is about to be destroyed)
 * and writes them all with the audit key's copy. If something changed, it rolls back and starts again.
 */
async function rewrapEverything(deps: { store: Store; keys: KeyService }, say: (line: string) => void): Promise<number> {
  const db = deps.store.db as unknown as SealedDb;
  const done = new Map<string, { from: string; to: string }>();
  for (let attempt = 0; attempt < REWRAP_ATTEMPTS; attempt++) {
    const current = await readSealed(db);
    for (const [k, { value }] of current) {
      if (done.get(k)?.from === value) continue;
      done.set(k, { from: value, to: (await deps.keys.rewrap(Buffer.from(value, 'base64'))).toString('base64') });
    }
    // The audit key itself stays on the token; only its backup copy moves to the next master key.
    const auditKeyCopy = deps.keys.wrappedAuditKey().toString('base64');
    try {
      return await deps.store.db.transaction().execute(async (trx) => {
        const tdb = trx as unknown as SealedDb;
        const now = await readSealed(tdb);
        if (now.size !== current.size) throw new ChangedMeanwhile();
        for (const [k, { value }] of now) if (done.get(k)?.from !== value) throw new ChangedMeanwhile();
        for (const [k, { column, key }] of now) {
          await tdb.updateTable(column.table).set({ [column.column]: done.get(k)!.to }).where(column.key, '=', key).execute();
        }
        await new Repositories(trx).meta.set(AUDIT_KEY_META, auditKeyCopy);
        return now.size;
      });
    } catch (e) {
      if (!(e instanceof ChangedMeanwhile)) throw e;
      say('sealed values changed while they were re-wrapped: re-wrapping the changed ones again');
    }
  }
  throw new WardenError('STORE_UNAVAILABLE', 'sealed values kept changing during the rotation; nothing was changed, try again');
}
