// The time zone: /etc/localtime (a symlink into the zoneinfo tree) and /etc/timezone (Debian's name file).
import { apply, readLinkOptional, readOptional, reload, type ChangeOptions, type SystemTarget } from './target.js';
import { validateZone } from './validate.js';

export async function showTimezone(t: SystemTarget): Promise<string | null> {
  const link = readLinkOptional(t, '/etc/localtime');
  const m = link ? /(?:^|\/)zoneinfo\/(.+)$/.exec(link) : null;
  if (m) return m[1]!;
  return readOptional(t, '/etc/timezone')?.trim() || null;
}

export async function setTimezone(t: SystemTarget, zone: string, opts?: ChangeOptions): Promise<string> {
  const next = validateZone(t, zone);
  await apply(
    t,
    [
      { path: '/etc/timezone', content: `${next}\n` },
      { path: '/etc/localtime', linkTo: `/usr/share/zoneinfo/${next}` },
    ],
    opts,
  );
  // timedated caches the zone it reports; programs read /etc/localtime themselves.
  await reload(t, '/etc/localtime', [['timedatectl', ['set-timezone', next]]]);
  return next;
}
