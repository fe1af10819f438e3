// The join bundle: what a new node needs besides the master key to become a member — the cluster's TLS
// material, the SST and app database passwords, the cluster's name and members. It is sealed under the
// master key (the keys' envelope seal, AES-256-GCM under a data key the token wraps), so it opens only on a
// token that already holds the same master key: a joiner imports it from k custodian shares first. The
// file may then travel by any channel; alone it is useless.
import { readFileSync, statSync } from 'node:fs';
import type { KeyService } from '../keys/index.js';
import { WardenError } from '../errors/index.js';
import type { ClusterTls } from './tls.js';
import type { Endpoint } from './galera-config.js';
import { writePrivateFile } from './files.js';

const FORMAT = 'warden-cluster-join-bundle';
const CONTEXT = 'warden/cluster-join-bundle/v1';
const MAX_BYTES = 1024 * 1024;

export interface JoinBundle {
  clusterName: string;
  /** The appliance id of the cluster's data (the same on every node): shares must be this appliance's. */
  applianceId: string;
  /** Members' group communication endpoints known when the bundle was written. */
  members: Endpoint[];
  /** Members' client endpoints (store.mariadb.hosts after this node's own). */
  clients: Endpoint[];
  tls: ClusterTls;
  sst: { user: string; password: string };
  app: { user: string; password: string; database: string };
  createdAt: string;
}

interface BundleFile {
  format: typeof FORMAT;
  version: 1;
  clusterName: string;
  applianceId: string;
  createdAt: string;
  sealed: string;
}

export async function sealJoinBundle(keys: KeyService, bundle: JoinBundle): Promise<string> {
  const plain = Buffer.from(JSON.stringify(bundle), 'utf8');
  try {
    const sealed = await keys.seal(plain, CONTEXT);
    const file: BundleFile = { format: FORMAT, version: 1, clusterName: bundle.clusterName, applianceId: bundle.applianceId, createdAt: bundle.createdAt, sealed: sealed.toString('base64') };
    return JSON.stringify(file, null, 2) + '\n';
  } finally {
    plain.fill(0);
  }
}

/** The bundle file's outside (readable without the key): which cluster and appliance it is for. */
export function bundleHeader(text: string): Omit<BundleFile, 'sealed'> & { sealed: Buffer } {
  let f: BundleFile;
  try {
    f = JSON.parse(text) as BundleFile;
  } catch {
    throw new WardenError('CLUSTER_BUNDLE_INVALID', 'not a Warden cluster join bundle (not JSON)');
  }
  if (f?.format !== FORMAT || f.version !== 1 || typeof f.sealed !== 'string' || typeof f.applianceId !== 'string') throw new WardenError('CLUSTER_BUNDLE_INVALID', 'not a Warden cluster join bundle (v1)');
  return { ...f, sealed: Buffer.from(f.sealed, 'base64') };
}

export async function openJoinBundle(keys: KeyService, text: string): Promise<JoinBundle> {
  const h = bundleHeader(text);
  let plain: Buffer;
  try {
    plain = await keys.open(h.sealed, CONTEXT);
  } catch (e) {
    throw new WardenError('CLUSTER_BUNDLE_INVALID', "the join bundle does not open with this token's master key (shares of another appliance, or a damaged bundle)", { cause: e });
  }
  try {
    const b = JSON.parse(plain.toString('utf8')) as JoinBundle;
    if (b.applianceId !== h.applianceId || b.clusterName !== h.clusterName) throw new WardenError('CLUSTER_BUNDLE_INVALID', 'the join bundle\'s sealed content does not match its header');
    return b;
  } finally {
    plain.fill(0);
  }
}

export function readBundleFile(file: string): string {
  try {
    if (statSync(file).size > MAX_BYTES) throw new WardenError('CLUSTER_BUNDLE_INVALID', `${file} is too large to be a join bundle`);
    return readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof WardenError) throw e;
    throw new WardenError('CLUSTER_BUNDLE_INVALID', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export function writeBundleFile(file: string, text: string): void {
  writePrivateFile(file, text, 0o600);
}
