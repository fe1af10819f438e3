// Name servers and search domains as a systemd-resolved drop-in (/etc/systemd/resolved.conf.d/warden.conf).
import { apply, readOptional, reload, type ChangeOptions, type SystemTarget } from './target.js';
import { validateDnsName, validateIp, validateList } from './validate.js';

export interface DnsSettings {
  servers: string[];
  search: string[];
}

export const DNS_FILE = '/etc/systemd/resolved.conf.d/warden.conf';

export function validateDns(d: DnsSettings): DnsSettings {
  return {
    servers: validateList(d?.servers, 'DNS server', validateIp, { min: 1, max: 8 }),
    search: validateList(d?.search ?? [], 'search domain', validateDnsName, { min: 0, max: 16 }),
  };
}

function valuesOf(text: string, key: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const m = new RegExp(`^\\s*${key}\\s*=(.*)$`).exec(raw);
    // An empty assignment resets the list in systemd's syntax.
    if (m) {
      const v = m[1]!.trim().split(/\s+/).filter(Boolean);
      if (v.length === 0) out.length = 0;
      else out.push(...v);
    }
  }
  return out;
}

export async function showDns(t: SystemTarget): Promise<DnsSettings> {
  const text = readOptional(t, DNS_FILE) ?? '';
  return { servers: valuesOf(text, 'DNS'), search: valuesOf(text, 'Domains') };
}

export async function setDns(t: SystemTarget, d: DnsSettings, opts?: ChangeOptions): Promise<DnsSettings> {
  const next = validateDns(d);
  const lines = ['# Written by orbit ("orbit dns set"); change it with orbit, not by hand.', '[Resolve]', `DNS=${next.servers.join(' ')}`];
  if (next.search.length > 0) lines.push(`Domains=${next.search.join(' ')}`);
  await apply(t, [{ path: DNS_FILE, content: lines.join('\n') + '\n' }], opts);
  await reload(t, DNS_FILE, [['systemctl', ['restart', 'systemd-resolved.service']]]);
  return next;
}
