// The cluster's files (server config with the SST password, TLS key, join bundle) replaced whole, with the
// mode they need from the start; owned by the database server's user when it is not root (the appliance's
// mariadb.service runs as mysql).
import { chownSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { replaceFile } from '../config/index.js';

export function writePrivateFile(file: string, data: string, mode: number, owner?: { uid: number; gid: number }): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  replaceFile(file, data, { mode });
  if (owner) chownSync(file, owner.uid, owner.gid);
}
