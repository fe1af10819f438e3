// SSH carries a smart card's key, never its certificate or chain: the proxy validates the bound certificate with
// the chain it can build itself. Intermediates the admin imported are in the trust store; those only the
// client's browser sent at its web login are remembered here (PEM, leaf side first; NULL when the store had them
// all), refreshed at every certificate login on the web, and used by the proxy under the same rules.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('user_certificates').addColumn('chain_pem', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('user_certificates').dropColumn('chain_pem').execute();
}
