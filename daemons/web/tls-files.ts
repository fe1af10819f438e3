// The web daemon's certificate and key files: read as a checked pair, and watched so a pair replaced on disk
// (orbit cert web install, or a deployer's own tooling) is served without a restart. A pair that does not
// work is refused with its reason and the one in use stays.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { watch, readFileSync, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { WardenError } from '../../appliance/errors/index.js';

export interface TlsPair {
  cert: Buffer;
  key: Buffer;
  /** SHA-256 of the leaf certificate. */
  fingerprint: string;
}

/** Read and check the pair: both parse, the key is the certificate's, OpenSSL takes them together. */
export function readTlsPair(files: { tlsCert: string; tlsKey: string }): TlsPair {
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = readFileSync(files.tlsCert);
    key = readFileSync(files.tlsKey);
  } catch (e) {
    throw new WardenError('CONFIG_INVALID', `the web TLS certificate or key cannot be read: ${(e as Error).message}`);
  }
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch {
    throw new WardenError('CONFIG_INVALID', `${files.tlsCert} is not a PEM certificate`);
  }
  let matches: boolean;
  try {
    matches = leaf.checkPrivateKey(createPrivateKey(key));
  } catch {
    throw new WardenError('CONFIG_INVALID', `${files.tlsKey} is not a usable private key`);
  }
  if (!matches) throw new WardenError('CONFIG_INVALID', `the key in ${files.tlsKey} does not belong to the certificate in ${files.tlsCert}`);
  try {
    createSecureContext({ cert, key });
  } catch (e) {
    throw new WardenError('CONFIG_INVALID', `OpenSSL refuses the certificate and key: ${(e as Error).message}`);
  }
  return { cert, key, fingerprint: leaf.fingerprint256 };
}

/** Time for the second of two replaced files (key, then certificate) to land before the pair is read. */
export const SETTLE_MS = 250;

/**
 * Call `changed` (once things settle) whenever either file is created, replaced or written. The directories
 * are watched, not the files: an atomic replace is a rename, after which a watch on the old file would see
 * nothing more. Returns the function that stops watching.
 */
export function watchTlsFiles(files: { tlsCert: string; tlsKey: string }, changed: () => void, onError: (e: Error) => void): () => void {
  const names = new Map<string, Set<string>>();
  for (const f of [files.tlsCert, files.tlsKey]) {
    const dir = path.dirname(path.resolve(f));
    if (!names.has(dir)) names.set(dir, new Set());
    names.get(dir)!.add(path.basename(f));
  }
  let timer: NodeJS.Timeout | undefined;
  const watchers: FSWatcher[] = [];
  for (const [dir, wanted] of names) {
    try {
      const w = watch(dir, { persistent: false }, (_event, name) => {
        // No name (some platforms): treat any change in the directory as a possible one.
        if (name !== null && !wanted.has(name.toString())) return;
        clearTimeout(timer);
        timer = setTimeout(changed, SETTLE_MS);
        timer.unref();
      });
      w.on('error', onError);
      watchers.push(w);
    } catch (e) {
      onError(e as Error);
    }
  }
  return () => {
    clearTimeout(timer);
    for (const w of watchers) w.close();
  };
}
