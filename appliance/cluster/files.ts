// The cluster's files (server config with the SST password, TLS key, join bundle) replaced whole, with the
// mode they need from the start; owned by the database server's user when it is not root (the appliance's
// mariadb.service runs as mysql).
import { chmodSync, chownSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { replaceFile } from '../config/index.js';

export function writePrivateFile(file: string, data: string, mode: number, owner?: { uid: number; gid: number }): void {
  // orbit runs with an owner-only umask, which would make a new directory 0700: the server (user mysql)
  // could not reach its TLS files inside ("Failed to setup SSL" at start). Each directory made is set 0755.
  const missing: string[] = [];
  for (let d = path.dirname(file); !existsSync(d); d = path.dirname(d)) missing.unshift(d);
  mkdirSync(path.dirname(file), { recursive: true });
  for (const d of missing) chmodSync(d, 0o755);
  replaceFile(file, data, { mode });
  if (owner) chownSync(file, owner.uid, owner.gid);
}
