// A certificate is bound to at most one account, and a certificate whose binding was revoked never binds
// again anywhere: every binding row claims its fingerprint under a unique index. Existing duplicates (which
// the earlier binding logic allowed) are resolved here: a certificate revoked anywhere is revoked
// everywhere; a certificate bound to several accounts stays with the account that bound it first.
import type { Kysely } from 'kysely';

const MIGRATION = '0006-pki-findings';

// Only the columns this migration reads or writes, as they are at this point of the schema's history.
interface Db {
  user_certificates: {
    id: number;
    user_id: number;
    fingerprint: string;
    subject: string;
    status: string;
    bound_at: number;
    revoked_at: number | null;
    revoked_by: string | null;
    fingerprint_claim: string | null;
  };
  users: { id: number; username: string };
  web_sessions: { user_id: number; certificate_fingerprint: string | null };
  certificate_events: {
    ts: number;
    event: string;
    user_id: number | null;
    username: string | null;
    fingerprint: string | null;
    subject: string | null;
    code: string | null;
    ip: string | null;
  };
}

export async function up(raw: Kysely<unknown>): Promise<void> {
  const db = raw as unknown as Kysely<Db>;
  await db.schema.alterTable('user_certificates').addColumn('fingerprint_claim', 'char(95)').execute();

  const rows = await db
    .selectFrom('user_certificates')
    .innerJoin('users', 'users.id', 'user_certificates.user_id')
    .select(['user_certificates.id', 'user_certificates.user_id', 'user_certificates.fingerprint', 'user_certificates.subject', 'user_certificates.status', 'user_certificates.bound_at', 'users.username'])
    .orderBy('user_certificates.id')
    .execute();
  const byFingerprint = new Map<string, typeof rows>();
  for (const r of rows) byFingerprint.set(r.fingerprint, [...(byFingerprint.get(r.fingerprint) ?? []), r]);

  const now = Date.now();
  for (const [fingerprint, group] of byFingerprint) {
    const revoked = group.filter((r) => r.status === 'revoked');
    const bound = group.filter((r) => r.status === 'bound').sort((a, b) => Number(a.bound_at) - Number(b.bound_at) || a.id - b.id);
    // A revoked row keeps the claim: the certificate never binds again. Otherwise the first binding keeps it.
    const claimant = revoked[0] ?? bound[0]!;
    const losers = revoked.length > 0 ? bound : bound.slice(1);
    for (const l of losers) {
      await db.updateTable('user_certificates').set({ status: 'revoked', revoked_at: now, revoked_by: `migration:${MIGRATION}` }).where('id', '=', l.id).execute();
      // As an administrator's revocation does: web sessions signed in with this certificate end.
      await db.deleteFrom('web_sessions').where('user_id', '=', l.user_id).where('certificate_fingerprint', '=', fingerprint).execute();
      await db
        .insertInto('certificate_events')
        .values({
          ts: now,
          event: 'revoke',
          user_id: l.user_id,
          username: l.username,
          fingerprint,
          subject: l.subject,
          code: revoked.length > 0 ? 'CERT_REVOKED' : 'CERT_BOUND_ELSEWHERE',
          ip: null,
        })
        .execute();
    }
    await db.updateTable('user_certificates').set({ fingerprint_claim: fingerprint }).where('id', '=', claimant.id).execute();
  }

  await db.schema.createIndex('user_certificates_fingerprint_claim').on('user_certificates').column('fingerprint_claim').unique().execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('user_certificates_fingerprint_claim').execute();
  await db.schema.alterTable('user_certificates').dropColumn('fingerprint_claim').execute();
}
