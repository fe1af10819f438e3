// `orbit backup keys`: a new master key, cut into new custodian shares. The 32 bytes exist in this process
// only between their creation and their import as a non-extractable key; every sealed value in the
// database is re-wrapped from the old key to the new one in a single transaction; the old key is then
// destroyed on the token. Old backups still need the old shares; new backups need the new ones.
import type { Store } from '../store/index.js';
import type { AuditTrail } from '../audit/index.js';
import { Repositories } from '../store/index.js';
import { generateMasterKeyMaterial, writeAuditKeyCopy, type KeyService } from '../keys/index.js';
import { splitMasterKey } from './key-shares.js';

/** Every column that holds a sealed envelope (base64), with its key column. */
const SEALED = [
  { table: 'credentials', key: 'id', column: 'secret_sealed' },
  { table: 'protected_items', key: 'id', column: 'content_sealed' },
  { table: 'totp_credentials', key: 'user_id', column: 'secret_sealed' },
  { table: 'mfa_providers', key: 'id', column: 'client_secret_sealed' },
  { table: 'appliance_meta', key: 'key', column: 'value', where: ['key', 'keys.check'] },
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
    await deps.store.db.transaction().execute(async (trx) => {
      for (const s of SEALED) {
        // Table and column names come from the constant list above, never from input.
        const db = trx as unknown as import('kysely').Kysely<Record<string, Record<string, string | number>>>;
        let q = db.selectFrom(s.table).select([`${s.key} as k`, `${s.column} as v`]);
        if ('where' in s) q = q.where(s.where[0], '=', s.where[1]);
        for (const row of await q.execute()) {
          const value = String(row.v ?? '');
          if (value === '') continue;
          const next = deps.keys.rewrap(Buffer.from(value, 'base64')).toString('base64');
          await db.updateTable(s.table).set({ [s.column]: next }).where(s.key, '=', row.k!).execute();
          rewrapped++;
        }
      }
      // The audit key itself stays on the token; only its backup copy moves to the new master key.
      await writeAuditKeyCopy(new Repositories(trx), deps.keys);
    });
  } catch (e) {
    deps.keys.abortRotation();
    throw e;
  }
  deps.keys.finishRotation();
  await deps.audit.record({ type: 'keys.rotate', outcome: 'success', actor: opts.actor, subject: labels.to, detail: { from: labels.from, rewrapped, custodians: opts.custodians, threshold: opts.threshold } });
  return { ...labels, rewrapped };
}
