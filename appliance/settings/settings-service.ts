import type { Store } from '../store/index.js';
import type { AuditTrail } from '../audit/index.js';
import { InputError } from '../errors/index.js';
import { LANGUAGES, type Language } from '../i18n/index.js';
import { assertDenylistSafe, parseCidr } from '../net/index.js';
import { isValidTimeZone } from '../i18n/index.js';

export interface PasswordRules {
  minLength: number;
  /** How many of lower, upper, digit, symbol must appear. */
  minClasses: number;
  /** A new password may not equal any of the last N (the current one included). */
  historyCount: number;
  forbidUsername: boolean;
}

export interface Settings {
  /** The password rules: the stored settings key and the API field keep the name passwordPolicy. */
  passwordPolicy: PasswordRules;
  lockout: {
    maxAttempts: number;
    /** 0: a locked account stays locked until an administrator unlocks it. */
    durationMinutes: number;
  };
  sessions: {
    idleTimeoutMinutes: number;
    absoluteLifetimeHours: number;
  };
  /**
   * Password spraying: failed logins counted per source address (IPv6 per /64) across all accounts. At
   * `maxFailures` within `windowMinutes` the address is refused for `blockMinutes`, doubled for each block
   * in a row (up to 16×). It slows only that address: people elsewhere, the victims included, log in as usual.
   */
  loginThrottle: {
    maxFailures: number;
    windowMinutes: number;
    blockMinutes: number;
  };
  ipDenylist: string[];
  defaultLanguage: Language;
  /** IANA zone access-group time windows are read in; '' = the appliance's system zone. */
  timeZone: string;
  /** Minutes between connectivity checks of every device's ports (0 = off). */
  connectivityIntervalMinutes: number;
  mfa: {
    /** "Force the use of digital certificate for all users": every web login needs the bound certificate. */
    forceCertificateForAll: boolean;
    /** "Check certificate e-mail": the certificate's e-mail must match the account's. */
    checkCertificateEmail: boolean;
    /** "Force authentication with certificate" for proxy sessions. */
    forceCertificateForProxy: boolean;
  };
  ssh: {
    /**
     * A registered SSH key (or the smart-card certificate's key) is one factor. Off: an account with a second
     * factor must add it after the key (TOTP by keyboard-interactive; the password after the card's key).
     * On: the key alone logs in, as an administrator may choose for keys kept on hardware.
     */
    allowPublicKeyAsSoleFactor: boolean;
  };
  /** Automatic change of credentials with `autoChange` on (issue 14). */
  rotation: {
    /** Days a secret lives before the schedule rotates it (a credential may set its own); 0: no schedule. */
    intervalDays: number;
    /** Rotate once a proxied session with it ended, or its password was viewed (after `afterViewMinutes`). */
    afterUse: boolean;
    /** How long a viewed password stays valid for its viewer before it is rotated. */
    afterViewMinutes: number;
    /** How long a password view holds an exclusive credential (a session holds it while it lasts). */
    checkoutMinutes: number;
    /** Hours between scheduled discoveries of each device that has a discovery credential; 0: none. */
    discoveryIntervalHours: number;
  };
}

export type SettingsPatch = { [K in keyof Settings]?: Settings[K] extends unknown[] ? Settings[K] : Partial<Settings[K]> | Settings[K] };

export const DEFAULT_SETTINGS: Settings = {
  passwordPolicy: { minLength: 12, minClasses: 3, historyCount: 5, forbidUsername: true },
  lockout: { maxAttempts: 5, durationMinutes: 30 },
  sessions: { idleTimeoutMinutes: 15, absoluteLifetimeHours: 12 },
  loginThrottle: { maxFailures: 10, windowMinutes: 15, blockMinutes: 15 },
  ipDenylist: [],
  defaultLanguage: 'en-US',
  timeZone: '',
  connectivityIntervalMinutes: 15,
  mfa: { forceCertificateForAll: false, checkCertificateEmail: true, forceCertificateForProxy: false },
  ssh: { allowPublicKeyAsSoleFactor: false },
  rotation: { intervalDays: 30, afterUse: true, afterViewMinutes: 60, checkoutMinutes: 60, discoveryIntervalHours: 24 },
};

type Rule = { kind: 'int'; min: number; max: number } | { kind: 'bool' };

const RULES: { [S in keyof Settings]?: Record<string, Rule> } = {
  passwordPolicy: {
    minLength: { kind: 'int', min: 8, max: 128 },
    minClasses: { kind: 'int', min: 1, max: 4 },
    historyCount: { kind: 'int', min: 0, max: 24 },
    forbidUsername: { kind: 'bool' },
  },
  lockout: { maxAttempts: { kind: 'int', min: 1, max: 100 }, durationMinutes: { kind: 'int', min: 0, max: 60 * 24 * 30 } },
  sessions: { idleTimeoutMinutes: { kind: 'int', min: 1, max: 24 * 60 }, absoluteLifetimeHours: { kind: 'int', min: 1, max: 24 * 7 } },
  loginThrottle: { maxFailures: { kind: 'int', min: 1, max: 10_000 }, windowMinutes: { kind: 'int', min: 1, max: 24 * 60 }, blockMinutes: { kind: 'int', min: 1, max: 24 * 60 } },
  mfa: { forceCertificateForAll: { kind: 'bool' }, checkCertificateEmail: { kind: 'bool' }, forceCertificateForProxy: { kind: 'bool' } },
  ssh: { allowPublicKeyAsSoleFactor: { kind: 'bool' } },
  rotation: { intervalDays: { kind: 'int', min: 0, max: 3650 }, afterUse: { kind: 'bool' }, afterViewMinutes: { kind: 'int', min: 0, max: 7 * 24 * 60 }, checkoutMinutes: { kind: 'int', min: 1, max: 7 * 24 * 60 }, discoveryIntervalHours: { kind: 'int', min: 0, max: 24 * 30 } },
};

/**
 * Validate a patch against the current settings, returning the full new value of each touched section.
 * `callerIp` is the address of the administrator making the change (null from the console): a denylist
 * covering it is refused.
 */
export function validateSettingsPatch(current: Settings, patch: unknown, callerIp: string | null = null): Partial<Settings> {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) throw new InputError('settings must be an object');
  const out: Partial<Settings> = {};
  for (const [section, value] of Object.entries(patch)) {
    if (section === 'ipDenylist') {
      if (!Array.isArray(value) || value.length > 1000 || !value.every((v) => typeof v === 'string')) {
        throw new InputError('ipDenylist must be a list of at most 1000 CIDR strings', { field: 'ipDenylist' });
      }
      out.ipDenylist = (value as string[]).map((v) => {
        try {
          const p = parseCidr(v);
          return `${p.address}/${p.prefix}`;
        } catch (e) {
          // Named as the field it came in (the console marks that field), with the entry that failed.
          if (e instanceof InputError) throw new InputError(`ipDenylist: ${e.message}`, { field: 'ipDenylist', entry: v.slice(0, 100) });
          throw e;
        }
      });
      assertDenylistSafe(out.ipDenylist, callerIp);
      continue;
    }
    if (section === 'timeZone') {
      if (typeof value !== 'string' || (value !== '' && !isValidTimeZone(value))) throw new InputError('timeZone must be an IANA time zone such as Europe/Berlin', { field: 'timeZone' });
      out.timeZone = value;
      continue;
    }
    if (section === 'connectivityIntervalMinutes') {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 24 * 60) throw new InputError('connectivityIntervalMinutes must be 0 to 1440', { field: 'connectivityIntervalMinutes' });
      out.connectivityIntervalMinutes = value;
      continue;
    }
    if (section === 'defaultLanguage') {
      if (typeof value !== 'string' || !(LANGUAGES as readonly string[]).includes(value)) {
        throw new InputError(`defaultLanguage must be one of ${LANGUAGES.join(', ')}`, { field: 'defaultLanguage' });
      }
      out.defaultLanguage = value as Language;
      continue;
    }
    const rules = RULES[section as keyof Settings];
    if (!rules) throw new InputError(`unknown setting ${section}`, { field: section });
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InputError(`${section} must be an object`, { field: section });
    const merged: Record<string, unknown> = { ...(current[section as keyof Settings] as object) };
    for (const [k, v] of Object.entries(value)) {
      const rule = rules[k];
      if (!rule) throw new InputError(`unknown setting ${section}.${k}`, { field: `${section}.${k}` });
      if (rule.kind === 'bool' && typeof v !== 'boolean') throw new InputError(`${section}.${k} must be true or false`, { field: `${section}.${k}` });
      if (rule.kind === 'int' && (typeof v !== 'number' || !Number.isInteger(v) || v < rule.min || v > rule.max)) {
        throw new InputError(`${section}.${k} must be an integer from ${rule.min} to ${rule.max}`, { field: `${section}.${k}` });
      }
      merged[k] = v;
    }
    (out as Record<string, unknown>)[section] = merged;
  }
  return out;
}

/** Resolved once: asking Intl per decision costs more than the decision. */
const SYSTEM_TIME_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

export class SettingsService {
  private cache: { value: Settings; at: number } | undefined;

  constructor(
    private readonly store: Store,
    private readonly audit: AuditTrail,
    private readonly clock: () => number = Date.now,
    /**
     * Changes made through this service in any process arrive on the change feed, which calls invalidate();
     * this bound is only for rows written behind the services' back (a restored database, an older version).
     */
    private readonly maxAgeMs = 1000,
  ) {}

  async current(): Promise<Settings> {
    const now = this.clock();
    if (this.cache && now - this.cache.at < this.maxAgeMs && now >= this.cache.at) return this.cache.value;
    const rows = await this.store.repos.settings.all();
    const value: Settings = structuredClone(DEFAULT_SETTINGS);
    for (const key of Object.keys(DEFAULT_SETTINGS) as (keyof Settings)[]) {
      const raw = rows[key];
      if (raw === undefined) continue;
      try {
        const parsed: unknown = JSON.parse(raw);
        // Stored values passed validation on write; merging over defaults keeps new fields defaulted.
        (value as unknown as Record<string, unknown>)[key] =
          typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? { ...(value[key] as object), ...parsed } : parsed;
      } catch {
        // A corrupt row keeps the default, which is the stricter baseline.
      }
    }
    this.cache = { value, at: now };
    return value;
  }

  /** The zone time windows are read in: the setting, else the system's. */
  async timeZone(): Promise<string> {
    return (await this.current()).timeZone || SYSTEM_TIME_ZONE;
  }

  async update(patch: unknown, actor: string, actorIp: string | null): Promise<Settings> {
    const current = await this.current();
    const changes = validateSettingsPatch(current, patch, actorIp);
    const now = this.clock();
    await this.audit.withChange({ type: 'settings.change', outcome: 'success', actor, actorIp, subject: Object.keys(changes).join(','), detail: { changes } }, async (repos) => {
      for (const [key, value] of Object.entries(changes)) await repos.settings.put(key, JSON.stringify(value), actor, now);
      await repos.changes.announce('settings.changed', 'settings', { keys: Object.keys(changes) });
    });
    this.cache = undefined;
    return this.current();
  }

  invalidate(): void {
    this.cache = undefined;
  }
}
