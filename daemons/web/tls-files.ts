// The web daemon's certificate and key files, watched so a pair replaced on disk
// (orbit cert web install, or a deployer's own tooling) is served without a restart. A pair that does not
// work is refused with its reason and the one in use stays.
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';

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
