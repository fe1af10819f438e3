// The appliance's name: /etc/hostname and its 127.0.1.1 line in /etc/hosts (Debian's convention, so the
// name resolves without DNS).
import { InputError } from '../errors/index.js';
import { apply, readOptional, reload, type ChangeOptions, type SystemTarget } from './target.js';
import { validateDnsName } from './validate.js';

/** The kernel keeps at most 64 bytes (HOST_NAME_MAX). */
const HOST_NAME_MAX = 64;

export function validateHostname(name: unknown): string {
  const n = validateDnsName(name, 'host name');
  if (n.length > HOST_NAME_MAX) throw new InputError(`host name is longer than ${HOST_NAME_MAX} characters`, { field: 'host name' });
  return n;
}

export async function showHostname(t: SystemTarget): Promise<string | null> {
  const text = readOptional(t, '/etc/hostname');
  const first = text?.split('\n').map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#'));
  return first ?? null;
}

const DEFAULT_HOSTS = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', 'ff02::1\tip6-allnodes', 'ff02::2\tip6-allrouters'];

/** /etc/hosts with exactly one 127.0.1.1 line, for `name`; every other line kept as it was. */
export function hostsWith(current: string | undefined, name: string): string {
  const short = name.split('.')[0]!;
  const entry = `127.0.1.1\t${name === short ? name : `${name} ${short}`}`;
  const lines = (current ?? DEFAULT_HOSTS.join('\n') + '\n').replace(/\n$/, '').split('\n');
  const kept = lines.filter((l) => !/^\s*127\.0\.1\.1\s/.test(l));
  const after = kept.findIndex((l) => /^\s*127\.0\.0\.1\s/.test(l));
  kept.splice(after + 1, 0, entry);
  return kept.join('\n') + '\n';
}

export async function setHostname(t: SystemTarget, name: string, opts?: ChangeOptions): Promise<string> {
  const next = validateHostname(name);
  const hosts = hostsWith(readOptional(t, '/etc/hosts'), next);
  await apply(t, [{ path: '/etc/hosts', content: hosts }, { path: '/etc/hostname', content: `${next}\n` }], opts);
  await reload(t, '/etc/hostname', [['hostnamectl', ['set-hostname', next]]]);
  return next;
}
