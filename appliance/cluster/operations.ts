// The steps of orbit cluster that touch this node's server, token and files, each usable alone. The
// console command strings them together and records the audit events (a mechanism above this layer).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { WardenError } from '../errors/index.js';
import { KeyService, initSoftHsmToken, writeSoftHsmConfig, SOFTHSM_MODULE } from '../keys/index.js';
import { writePrivateFile as writeConfigPrivateFile } from '../config/index.js';
import { Store, copyDatabase, type CopyResult, type MariaDbStoreConnection } from '../store/index.js';
import type { NodeLayout } from './galera-config.js';

const run = promisify(execFile);

/** A process-runner node's first datadir (the appliance's comes from Debian's package). */
export async function initializeDatadir(layout: NodeLayout, opts: { asRoot: boolean }): Promise<void> {
  if (existsSync(path.join(layout.datadir, 'mysql'))) return;
  mkdirSync(layout.datadir, { recursive: true });
  try {
    await run('mariadb-install-db', [...(opts.asRoot ? ['--user=root'] : []), `--datadir=${layout.datadir}`, '--auth-root-authentication-method=socket', '--skip-test-db'], { timeout: 120_000 });
  } catch (e) {
    throw new WardenError('CLUSTER_FAILED', `mariadb-install-db failed: ${(e as Error).message}`, { cause: e });
  }
}

/** A joiner's datadir must hold no database yet: SST replaces it whole. */
export function datadirIsFresh(layout: NodeLayout): boolean {
  if (!existsSync(layout.datadir)) return true;
  return !readdirSync(layout.datadir).some((f) => f === 'grastate.dat' || f === 'warden' || f === 'warden_store');
}

/**
 * A new SoftHSM token for a joining node holding the cluster's master key (rebuilt from custodian shares,
 * imported non-extractable), as a restore makes it. Returns the open KeyService; the material is zeroed.
 */
export function createNodeToken(o: { softhsmConf: string; tokensDir: string; pinFile: string; soPinFile: string; label: string }, material: Buffer): KeyService {
  const userPin = randomBytes(18).toString('base64url');
  const soPin = randomBytes(18).toString('base64url');
  writeSoftHsmConfig(o.softhsmConf, o.tokensDir);
  writeConfigPrivateFile(o.pinFile, `${userPin}\n`);
  writeConfigPrivateFile(o.soPinFile, `${soPin}\n`);
  initSoftHsmToken({ module: SOFTHSM_MODULE, softhsmConf: o.softhsmConf, label: o.label, soPin, userPin });
  const keys = KeyService.open({ module: SOFTHSM_MODULE, tokenLabel: o.label, pinFile: o.pinFile, softhsmConf: o.softhsmConf });
  try {
    keys.importMasterKey(material);
  } catch (e) {
    keys.close();
    throw e;
  } finally {
    material.fill(0);
  }
  return keys;
}

export interface CopyProgress {
  (table: string, done: number, total: number): void;
}

/**
 * The SQLite store's rows into the new MariaDB database (schema migrated first by opening it), counted on
 * both sides per table by the store's copyDatabase, which throws STORE_COPY_MISMATCH on any difference.
 */
export async function migrateStore(sqlitePath: string, target: MariaDbStoreConnection, onProgress?: CopyProgress): Promise<CopyResult> {
  const source = await Store.open({ sqlitePath });
  try {
    const dest = await Store.open({ engine: 'mariadb', mariadb: target });
    try {
      return await copyDatabase(source, dest, onProgress ? { onProgress } : {});
    } finally {
      await dest.close();
    }
  } finally {
    await source.close();
  }
}
