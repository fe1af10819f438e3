// A temporary file-system root for the OS settings (what `orbit --root DIR` writes under): with the zone
// files a time zone is checked against, and a byte-exact snapshot of everything in it, to prove a refused
// change left every file as it was.
import { copyFileSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './fixtures.js';

export const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York'];

export function systemRoot(prefix = 'warden-root-'): { dir: string; cleanup: () => void } {
  const t = tempDir(prefix);
  for (const z of ZONES) {
    const to = path.join(t.dir, 'usr/share/zoneinfo', z);
    mkdirSync(path.dirname(to), { recursive: true });
    copyFileSync(path.join('/usr/share/zoneinfo', z), to);
  }
  return t;
}

/** Every file and symlink under `dir` (zone files aside): relative path → bytes, or "-> target" for links. */
export function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = path.join(d, e);
      const rel = path.relative(dir, p);
      if (rel.startsWith('usr/share/zoneinfo')) continue;
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out.set(rel, `-> ${readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.set(`${rel}/`, `dir ${(st.mode & 0o777).toString(8)}`);
        walk(p);
      } else out.set(rel, `${(st.mode & 0o777).toString(8)} ${readFileSync(p).toString('base64')}`);
    }
  };
  walk(dir);
  return out;
}
