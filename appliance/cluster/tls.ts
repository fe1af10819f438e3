// The cluster's own TLS: a CA made for this cluster alone and one node certificate every member uses for
// Galera replication, state transfers and client connections. It travels to a joiner in the sealed join
// bundle; since nothing outside the cluster holds a certificate of this CA, a verified chain means a member.
// Made with the openssl tool (the same OpenSSL Galera and socat use).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { WardenError } from '../errors/index.js';
import { writePrivateFile } from './files.js';

const run = promisify(execFile);

export interface ClusterTls {
  caPem: string;
  certPem: string;
  keyPem: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (e) {
    throw new WardenError('CLUSTER_FAILED', `openssl ${args[0]} failed: ${(e as { stderr?: string }).stderr ?? (e as Error).message}`, { cause: e });
  }
}

// The subjects have no spaces: the SST script sends the certificate's CN inside its `CN:secret@host` auth
// string, which a space breaks ("Bad remote auth string" on the donor).
export async function createClusterTls(clusterName: string, opts: { days?: number } = {}): Promise<ClusterTls> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'warden-cluster-tls-'));
  const days = String(opts.days ?? 3650);
  try {
    await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', days, '-subj', `/CN=${clusterName}-cluster-ca`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
    await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'node.key', '-out', 'node.csr', '-subj', `/CN=${clusterName}-node`], dir);
    writeFileSync(path.join(dir, 'ext'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n');
    await openssl(['x509', '-req', '-in', 'node.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'node.pem', '-days', days, '-extfile', 'ext'], dir);
    // The CA key is not kept: no new certificate is ever issued; a new cluster CA means a new bundle.
    return { caPem: readFileSync(path.join(dir, 'ca.pem'), 'utf8'), certPem: readFileSync(path.join(dir, 'node.pem'), 'utf8'), keyPem: readFileSync(path.join(dir, 'node.key'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Install the material where the server config points (tlsFiles(layout)); the key readable by the server only. */
export function installClusterTls(tls: ClusterTls, files: { ca: string; cert: string; key: string }, owner?: { uid: number; gid: number }): void {
  writePrivateFile(files.ca, tls.caPem, 0o644, owner);
  writePrivateFile(files.cert, tls.certPem, 0o644, owner);
  writePrivateFile(files.key, tls.keyPem, 0o600, owner);
}
