// Time servers as a systemd-timesyncd drop-in (/etc/systemd/timesyncd.conf.d/warden.conf).
import { apply, readOptional, reload, type ChangeOptions, type SystemTarget } from './target.js';
import { validateHostOrIp, validateList } from './validate.js';

export interface NtpSettings {
  servers: string[];
}

export const NTP_FILE = '/etc/systemd/timesyncd.conf.d/warden.conf';

export function validateNtp(n: NtpSettings): NtpSettings {
  return { servers: validateList(n?.servers, 'NTP server', validateHostOrIp, { min: 1, max: 8 }) };
}

export async function showNtp(t: SystemTarget): Promise<NtpSettings> {
  const text = readOptional(t, NTP_FILE) ?? '';
  const servers: string[] = [];
  for (const raw of text.split('\n')) {
    const m = /^\s*NTP\s*=(.*)$/.exec(raw);
    if (!m) continue;
    const v = m[1]!.trim().split(/\s+/).filter(Boolean);
    if (v.length === 0) servers.length = 0;
    else servers.push(...v);
  }
  return { servers };
}

export async function setNtp(t: SystemTarget, n: NtpSettings, opts?: ChangeOptions): Promise<NtpSettings> {
  const next = validateNtp(n);
  const content = ['# Written by orbit ("orbit ntp set"); change it with orbit, not by hand.', '[Time]', `NTP=${next.servers.join(' ')}`].join('\n') + '\n';
  await apply(t, [{ path: NTP_FILE, content }], opts);
  await reload(t, NTP_FILE, [['systemctl', ['restart', 'systemd-timesyncd.service']]]);
  return next;
}
