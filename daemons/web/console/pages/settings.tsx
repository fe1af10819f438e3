// Settings: one form per group (password policy, lockout, sessions, throttling, denylist, language and time,
// connectivity, certificates and second factors), each saved on its own — a PUT of just that group, so two
// administrators editing different groups do not undo each other — and the Duo providers. Without the permission
// to manage settings the same page is read-only (the API refuses a change anyway).
import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, failed } from '../api.js';
import { language, t, type MessageKey } from '../i18n.js';
import { toast } from '../toasts.js';
import type { Me } from '../types.js';
import { ListTable } from './list.js';

interface Settings {
  passwordPolicy: { minLength: number; minClasses: number; historyCount: number; forbidUsername: boolean };
  lockout: { maxAttempts: number; durationMinutes: number };
  sessions: { idleTimeoutMinutes: number; absoluteLifetimeHours: number };
  loginThrottle: { maxFailures: number; windowMinutes: number; blockMinutes: number };
  ipDenylist: string[];
  defaultLanguage: string;
  timeZone: string;
  connectivityIntervalMinutes: number;
  mfa: { forceCertificateForAll: boolean; checkCertificateEmail: boolean; forceCertificateForProxy: boolean };
  ssh: { allowPublicKeyAsSoleFactor: boolean };
  rotation: { intervalDays: number; afterUse: boolean; afterViewMinutes: number };
}

interface DuoProvider {
  id: number;
  name: string;
  enabled: boolean;
  apiHost: string;
  clientId: string;
  clientSecretSet: boolean;
}

/** The languages the appliance speaks (the server's list), each named by the browser in the page's language. */
const LANGUAGES = ['en-US', 'pt-BR', 'de', 'es', 'pl', 'fr', 'ru'];

function languageName(code: string): string {
  try {
    return new Intl.DisplayNames([language()], { type: 'language' }).of(code) ?? code;
  } catch {
    return code;
  }
}

function timeZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (k: string) => string[] };
  return intl.supportedValuesOf ? intl.supportedValuesOf('timeZone') : [];
}

type NumberField = { kind: 'int'; name: string; label: MessageKey; min: number; max: number };
type BoolField = { kind: 'bool'; name: string; label: MessageKey };
type Field = NumberField | BoolField;

/** The groups that are objects of numbers and switches: one form each, fields named as the API names them. */
const GROUPS: { key: 'passwordPolicy' | 'lockout' | 'sessions' | 'loginThrottle' | 'mfa' | 'ssh' | 'rotation'; title: MessageKey; fields: Field[] }[] = [
  {
    key: 'passwordPolicy',
    title: 'console.settings.passwordPolicy',
    fields: [
      { kind: 'int', name: 'minLength', label: 'console.settings.passwordPolicy.minLength', min: 8, max: 128 },
      { kind: 'int', name: 'minClasses', label: 'console.settings.passwordPolicy.minClasses', min: 1, max: 4 },
      { kind: 'int', name: 'historyCount', label: 'console.settings.passwordPolicy.historyCount', min: 0, max: 24 },
      { kind: 'bool', name: 'forbidUsername', label: 'console.settings.passwordPolicy.forbidUsername' },
    ],
  },
  {
    key: 'lockout',
    title: 'console.settings.lockout',
    fields: [
      { kind: 'int', name: 'maxAttempts', label: 'console.settings.lockout.maxAttempts', min: 1, max: 100 },
      { kind: 'int', name: 'durationMinutes', label: 'console.settings.lockout.durationMinutes', min: 0, max: 43_200 },
    ],
  },
  {
    key: 'sessions',
    title: 'console.settings.sessions',
    fields: [
      { kind: 'int', name: 'idleTimeoutMinutes', label: 'console.settings.sessions.idleTimeoutMinutes', min: 1, max: 1440 },
      { kind: 'int', name: 'absoluteLifetimeHours', label: 'console.settings.sessions.absoluteLifetimeHours', min: 1, max: 168 },
    ],
  },
  {
    key: 'loginThrottle',
    title: 'console.settings.loginThrottle',
    fields: [
      { kind: 'int', name: 'maxFailures', label: 'console.settings.loginThrottle.maxFailures', min: 1, max: 10_000 },
      { kind: 'int', name: 'windowMinutes', label: 'console.settings.loginThrottle.windowMinutes', min: 1, max: 1440 },
      { kind: 'int', name: 'blockMinutes', label: 'console.settings.loginThrottle.blockMinutes', min: 1, max: 1440 },
    ],
  },
  {
    key: 'mfa',
    title: 'console.settings.certificates',
    fields: [
      { kind: 'bool', name: 'forceCertificateForAll', label: 'console.settings.mfa.forceCertificateForAll' },
      { kind: 'bool', name: 'forceCertificateForProxy', label: 'console.settings.mfa.forceCertificateForProxy' },
      { kind: 'bool', name: 'checkCertificateEmail', label: 'console.settings.mfa.checkCertificateEmail' },
    ],
  },
  {
    key: 'ssh',
    title: 'console.settings.ssh',
    fields: [{ kind: 'bool', name: 'allowPublicKeyAsSoleFactor', label: 'console.settings.ssh.allowPublicKeyAsSoleFactor' }],
  },
  {
    key: 'rotation',
    title: 'console.settings.rotation',
    fields: [
      { kind: 'int', name: 'intervalDays', label: 'console.settings.rotation.intervalDays', min: 0, max: 3650 },
      { kind: 'bool', name: 'afterUse', label: 'console.settings.rotation.afterUse' },
      { kind: 'int', name: 'afterViewMinutes', label: 'console.settings.rotation.afterViewMinutes', min: 0, max: 10_080 },
    ],
  },
];

/**
 * What went wrong with a form's save, in the page's words: the field the server names is marked invalid, focused
 * and named by its own label (the server's message is English and names the API's field).
 */
function formError(e: unknown, form: HTMLFormElement | null): string {
  if (!(e instanceof ApiError)) return t('console.error.network');
  const d = e.details ?? {};
  if (e.code === 'MFA_PROVIDER_INVALID') return t('console.settings.duo.invalid');
  if (e.code === 'INPUT_INVALID' && typeof d.entry === 'string' && typeof d.address === 'string') return t('console.settings.ipDenylist.coversYou', { entry: d.entry, address: d.address });
  if (e.code === 'INPUT_INVALID' && typeof d.field === 'string' && form) {
    const input = form.querySelector<HTMLElement>(`[name="${CSS.escape(d.field.split('.').pop()!)}"]`);
    const label = input?.closest('label')?.firstChild?.textContent?.trim();
    if (input && label) {
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return t('console.settings.invalidField', { field: label });
    }
  }
  return e.text();
}

/** One group's form: its own Save, its own error line; the page's copy of the settings is what the server answered. */
function GroupForm({ id, heading, canManage, save, children }: { id: string; heading: MessageKey; canManage: boolean; save: (form: FormData) => Promise<void>; children: ComponentChildren }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const form = ev.currentTarget as HTMLFormElement;
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    setBusy(true);
    setError('');
    try {
      await save(new FormData(form));
      toast(t('console.settings.saved'));
    } catch (e) {
      setError(formError(e, form));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="panel" id={`settings-${id}`} aria-labelledby={`settings-${id}-heading`} onSubmit={(ev) => void submit(ev)}>
      <h2 id={`settings-${id}-heading`}>{t(heading)}</h2>
      <fieldset disabled={!canManage} class="plain">
        {children}
      </fieldset>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      {canManage ? (
        <button type="submit" id={`save-${id}`} disabled={busy}>
          {t('console.settings.save')}
        </button>
      ) : null}
    </form>
  );
}

function Fields({ group, values }: { group: string; values: Record<string, number | boolean> }) {
  return (
    <div class="grid">
      {GROUPS.find((g) => g.key === group)!.fields.map((f) =>
        f.kind === 'int' ? (
          <label key={f.name}>
            {t(f.label)}
            <input name={f.name} id={`${group}-${f.name}`} type="number" inputMode="numeric" required min={f.min} max={f.max} step={1} defaultValue={String(values[f.name])} />
          </label>
        ) : (
          <label key={f.name} class="check">
            <input name={f.name} id={`${group}-${f.name}`} type="checkbox" defaultChecked={values[f.name] === true} />
            {t(f.label)}
          </label>
        ),
      )}
    </div>
  );
}

function groupValues(group: (typeof GROUPS)[number], form: FormData): Record<string, number | boolean> {
  const out: Record<string, number | boolean> = {};
  for (const f of group.fields) out[f.name] = f.kind === 'int' ? Number(form.get(f.name)) : form.get(f.name) === 'on';
  return out;
}

function DuoForm({ provider, onSaved, onCancel }: { provider: DuoProvider | null; onSaved: (p: DuoProvider) => void; onCancel: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const first = useRef<HTMLInputElement>(null);
  useLayoutEffect(() => first.current?.focus(), []);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const element = ev.currentTarget as HTMLFormElement;
    for (const el of element.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    const form = new FormData(element);
    const secret = String(form.get('clientSecret') ?? '');
    const body = {
      name: String(form.get('name') ?? ''),
      apiHost: String(form.get('apiHost') ?? ''),
      clientId: String(form.get('clientId') ?? ''),
      enabled: form.get('enabled') === 'on',
      ...(secret ? { clientSecret: secret } : {}),
    };
    setBusy(true);
    setError('');
    try {
      const saved = provider
        ? await api<{ provider: DuoProvider }>('PUT', `/api/v1/mfa/providers/${provider.id}`, body)
        : await api<{ provider: DuoProvider }>('POST', '/api/v1/mfa/providers', body);
      onSaved(saved.provider);
    } catch (e) {
      setError(formError(e, element));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="panel" id="duo-form" aria-labelledby="duo-form-heading" onSubmit={(ev) => void submit(ev)}>
      <h3 id="duo-form-heading">{provider ? t('console.settings.duo.editHeading', { name: provider.name }) : t('console.settings.duo.add')}</h3>
      <p class="note">{t('console.settings.duo.note')}</p>
      <div class="grid">
        <label>
          {t('console.settings.duo.name')}
          <input name="name" id="duo-name" ref={first} required maxLength={64} defaultValue={provider?.name ?? ''} autoComplete="off" />
        </label>
        <label>
          {t('console.settings.duo.apiHost')}
          <input name="apiHost" id="duo-api-host" required maxLength={255} defaultValue={provider?.apiHost ?? ''} autoComplete="off" />
        </label>
        <label>
          {t('console.settings.duo.clientId')}
          <input name="clientId" id="duo-client-id" required minLength={20} maxLength={20} defaultValue={provider?.clientId ?? ''} autoComplete="off" />
        </label>
        <label>
          {provider ? t('console.settings.duo.clientSecretKeep') : t('console.settings.duo.clientSecret')}
          {/* Write-only: the stored secret never comes back to the browser. */}
          <input name="clientSecret" id="duo-client-secret" type="password" required={!provider} autoComplete="new-password" />
        </label>
        <label class="check">
          <input name="enabled" id="duo-enabled" type="checkbox" defaultChecked={provider?.enabled ?? true} />
          {t('console.settings.duo.enabled')}
        </label>
      </div>
      {error ? (
        <p class="error" role="alert" id="duo-provider-error">
          {error}
        </p>
      ) : null}
      <button type="submit" id="duo-save" disabled={busy}>
        {t('console.settings.save')}
      </button>
      <button type="button" class="secondary" onClick={onCancel}>
        {t('console.settings.cancel')}
      </button>
    </form>
  );
}

function DuoProviders({ canManage }: { canManage: boolean }) {
  const [providers, setProviders] = useState<DuoProvider[] | null>(null);
  const [editing, setEditing] = useState<DuoProvider | 'new' | null>(null);
  const load = () =>
    api<{ providers: DuoProvider[] }>('GET', '/api/v1/mfa/providers')
      .then((r) => setProviders(r.providers))
      .catch((e) => failed(e));
  useEffect(() => void load(), []);
  return (
    <section class="panel" aria-labelledby="duo-heading" id="duo-providers">
      <h2 id="duo-heading">{t('console.settings.duo')}</h2>
      <ListTable
        id="duo-list"
        items={providers}
        empty="console.settings.duo.none"
        head={
          <>
            <th scope="col">{t('console.settings.duo.name')}</th>
            <th scope="col">{t('console.settings.duo.apiHost')}</th>
            <th scope="col">{t('console.settings.duo.clientId')}</th>
            <th scope="col">{t('console.settings.duo.status')}</th>
            {canManage ? <th scope="col">{t('console.settings.duo.actions')}</th> : null}
          </>
        }
        row={(p) => (
          <tr key={p.id} data-name={p.name}>
            <th scope="row">{p.name}</th>
            <td>{p.apiHost}</td>
            <td>
              <code>{p.clientId}</code>
            </td>
            <td>{p.enabled ? t('console.settings.duo.enabled') : t('console.settings.duo.off')}</td>
            {canManage ? (
              <td class="actions">
                <button type="button" class="secondary" onClick={() => setEditing(p)}>
                  {t('console.settings.duo.edit')}
                </button>
              </td>
            ) : null}
          </tr>
        )}
      />
      {canManage && editing === null ? (
        <button type="button" id="duo-add" onClick={() => setEditing('new')}>
          {t('console.settings.duo.add')}
        </button>
      ) : null}
      {editing !== null ? (
        <DuoForm
          key={editing === 'new' ? 'new' : editing.id}
          provider={editing === 'new' ? null : editing}
          onCancel={() => setEditing(null)}
          onSaved={(p) => {
            toast(t('console.settings.duo.saved', { name: p.name }));
            setEditing(null);
            void load();
          }}
        />
      ) : null}
    </section>
  );
}

export function SettingsPage({ me }: { me: Me }) {
  const canManage = me.permissions.includes('settings.manage');
  const [settings, setSettings] = useState<Settings | null>(null);
  useEffect(() => {
    api<{ settings: Settings }>('GET', '/api/v1/settings')
      .then((r) => setSettings(r.settings))
      .catch((e) => failed(e));
  }, []);
  const put = async (patch: Partial<Settings>) => setSettings((await api<{ settings: Settings }>('PUT', '/api/v1/settings', patch)).settings);
  const zones = timeZones();

  return (
    <section aria-labelledby="page-heading">
      <h1 id="page-heading" tabIndex={-1}>
        {t('console.settings.heading')}
      </h1>
      {canManage ? null : (
        <p class="note" id="settings-read-only">
          {t('console.settings.readOnly')}
        </p>
      )}
      {settings === null ? null : (
        // Keyed by the values: a save redraws the forms from what the server answered.
        <div key={JSON.stringify(settings)}>
          {GROUPS.map((g) => (
            <GroupForm key={g.key} id={g.key} heading={g.title} canManage={canManage} save={(form) => put({ [g.key]: groupValues(g, form) })}>
              <Fields group={g.key} values={settings[g.key] as unknown as Record<string, number | boolean>} />
            </GroupForm>
          ))}
          <GroupForm
            id="ipDenylist"
            heading="console.settings.ipDenylist"
            canManage={canManage}
            save={(form) =>
              put({
                ipDenylist: String(form.get('ipDenylist') ?? '')
                  .split('\n')
                  .map((l) => l.trim())
                  .filter((l) => l !== ''),
              })
            }
          >
            <label>
              {t('console.settings.ipDenylist.entries')}
              <textarea name="ipDenylist" id="ip-denylist" rows={5} spellcheck={false} defaultValue={settings.ipDenylist.join('\n')} />
            </label>
          </GroupForm>
          <GroupForm
            id="regional"
            heading="console.settings.regional"
            canManage={canManage}
            save={(form) => put({ defaultLanguage: String(form.get('defaultLanguage') ?? ''), timeZone: String(form.get('timeZone') ?? '').trim() })}
          >
            <div class="grid">
              <label>
                {t('console.settings.defaultLanguage')}
                <select name="defaultLanguage" id="default-language">
                  {LANGUAGES.map((l) => (
                    <option key={l} value={l} selected={settings.defaultLanguage === l}>
                      {languageName(l)}
                    </option>
                  ))}
                </select>
              </label>
              <label>
                {t('console.settings.timeZone')}
                <input name="timeZone" id="time-zone" list="time-zones" defaultValue={settings.timeZone} autoComplete="off" aria-describedby="time-zone-note" />
              </label>
            </div>
            <p class="note" id="time-zone-note">
              {t('console.settings.timeZone.note')}
            </p>
            <datalist id="time-zones">
              {zones.map((z) => (
                <option key={z} value={z} />
              ))}
            </datalist>
          </GroupForm>
          <GroupForm id="connectivity" heading="console.settings.connectivity" canManage={canManage} save={(form) => put({ connectivityIntervalMinutes: Number(form.get('connectivityIntervalMinutes')) })}>
            <label>
              {t('console.settings.connectivityIntervalMinutes')}
              <input name="connectivityIntervalMinutes" id="connectivity-interval" type="number" required min={0} max={1440} step={1} defaultValue={String(settings.connectivityIntervalMinutes)} />
            </label>
          </GroupForm>
        </div>
      )}
      <DuoProviders canManage={canManage} />
    </section>
  );
}
