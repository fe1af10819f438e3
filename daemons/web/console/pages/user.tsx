// One user's page (/console/users/<id>): who it is, the second factor asked at login (and a TOTP reset), the
// certificates bound to the account (revoke: the account stays active and binds a new one at its next login),
// and the SSH keys registered for the terminal proxy (remove). Changes need users.manage; the certificate list
// needs certificates.read, its revoke certificates.manage.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, errorText, failed } from '../api.js';
import { formatDateTime, profileLabel, t, type MessageKey } from '../i18n.js';
import { followLink } from '../router.js';
import { toast } from '../toasts.js';
import type { Me, User } from '../types.js';
import { BindingList } from './certificates.js';
import { ListTable } from './list.js';

const METHODS = ['none', 'certificate', 'totp', 'duo'] as const;

interface SshKey {
  id: number;
  algorithm: string;
  fingerprint: string;
  comment: string;
  createdAt: string;
  lastUsedAt: string | null;
}

function SecondFactor({ user, canManage, onSaved }: { user: User; canManage: boolean; onSaved: (u: User) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const save = async (ev: Event) => {
    ev.preventDefault();
    const method = String(new FormData(ev.currentTarget as HTMLFormElement).get('method') ?? '');
    setBusy(true);
    setError('');
    try {
      onSaved((await api<{ user: User }>('POST', `/api/v1/users/${user.id}/mfa`, { method })).user);
      toast(t('console.user.mfa.saved', { username: user.username }));
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const resetTotp = async () => {
    try {
      await api('POST', `/api/v1/users/${user.id}/totp/reset`);
      toast(t('console.user.totpReset.note', { username: user.username }));
    } catch (e) {
      failed(e);
    }
  };
  return (
    <form class="panel" id="second-factor" aria-labelledby="second-factor-heading" onSubmit={(ev) => void save(ev)}>
      <h2 id="second-factor-heading">{t('console.user.secondFactor')}</h2>
      <p class="note">{t('console.user.secondFactor.note')}</p>
      <fieldset class="plain" disabled={!canManage}>
        <legend class="visually-hidden">{t('console.user.secondFactor')}</legend>
        {METHODS.map((m) => (
          <label key={m} class="check">
            <input type="radio" name="method" value={m} id={`mfa-${m}`} defaultChecked={user.mfaMethod === m} />
            {t(`console.user.mfa.${m}` as MessageKey)}
          </label>
        ))}
      </fieldset>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      {canManage ? (
        <>
          <button type="submit" id="mfa-save" disabled={busy}>
            {t('console.user.mfa.save')}
          </button>
          {user.mfaMethod === 'totp' ? (
            <button type="button" class="secondary" id="totp-reset" onClick={() => void resetTotp()}>
              {t('console.user.totpReset')}
            </button>
          ) : null}
        </>
      ) : null}
    </form>
  );
}

/** This account's certificate bindings: the Certificates page's list, held to one user. */
function Certificates({ user, canRevoke }: { user: User; canRevoke: boolean }) {
  return (
    <section class="panel wide" aria-labelledby="user-certificates-heading" id="user-certificates">
      <h2 id="user-certificates-heading">{t('console.user.certificates')}</h2>
      <BindingList filter={{ user: user.username, status: '' }} canRevoke={canRevoke} showUser={false} empty="console.user.certificates.none" />
    </section>
  );
}

function SshKeys({ user, canManage }: { user: User; canManage: boolean }) {
  const [keys, setKeys] = useState<SshKey[] | null>(null);
  const load = () =>
    api<{ keys: SshKey[] }>('GET', `/api/v1/users/${user.id}/ssh-keys`)
      .then((r) => setKeys(r.keys))
      .catch(failed);
  useEffect(() => void load(), [user.id]);
  const remove = async (k: SshKey) => {
    try {
      await api('DELETE', `/api/v1/users/${user.id}/ssh-keys/${k.id}`);
      toast(t('console.user.sshKeys.removed', { fingerprint: k.fingerprint }));
      void load();
    } catch (e) {
      failed(e);
    }
  };
  return (
    <section class="panel wide" aria-labelledby="user-ssh-keys-heading" id="user-ssh-keys">
      <h2 id="user-ssh-keys-heading">{t('console.user.sshKeys')}</h2>
      <ListTable
        id="ssh-keys"
        items={keys}
        empty="console.user.sshKeys.none"
        head={
          <>
            <th scope="col">{t('console.user.sshKeys.fingerprint')}</th>
            <th scope="col">{t('console.user.sshKeys.comment')}</th>
            <th scope="col">{t('console.user.sshKeys.added')}</th>
            <th scope="col">{t('console.user.sshKeys.lastUsed')}</th>
            {canManage ? <th scope="col">{t('console.certificates.col.actions')}</th> : null}
          </>
        }
        row={(k) => (
          <tr key={k.id} data-fingerprint={k.fingerprint}>
            <th scope="row">
              <code>{k.fingerprint}</code> <span class="muted">{k.algorithm}</span>
            </th>
            <td>{k.comment}</td>
            <td>{formatDateTime(k.createdAt)}</td>
            <td>{k.lastUsedAt ? formatDateTime(k.lastUsedAt) : t('console.user.sshKeys.never')}</td>
            {canManage ? (
              <td class="actions">
                <button type="button" class="secondary" onClick={() => void remove(k)}>
                  {t('console.user.sshKeys.remove')}
                </button>
              </td>
            ) : null}
          </tr>
        )}
      />
    </section>
  );
}

export function UserPage({ me, id }: { me: Me; id: number }) {
  const [user, setUser] = useState<User | null | 'missing'>(null);
  useEffect(() => {
    setUser(null);
    api<{ user: User }>('GET', `/api/v1/users/${id}`)
      .then((r) => setUser(r.user))
      .catch((e) => (e instanceof ApiError && e.status === 404 ? setUser('missing') : failed(e)));
  }, [id]);
  const canManage = me.permissions.includes('users.manage');
  return (
    <section aria-labelledby="page-heading">
      <p class="crumbs">
        <a href="/console/users" onClick={(ev) => followLink(ev, '/console/users')}>
          {t('console.user.back')}
        </a>
      </p>
      {user === 'missing' ? (
        <h1 id="page-heading" tabIndex={-1}>
          {t('console.user.notFound')}
        </h1>
      ) : user === null ? (
        <p aria-busy="true">{t('console.loading')}</p>
      ) : (
        <>
          <h1 id="page-heading" tabIndex={-1}>
            {user.username}
          </h1>
          <dl class="facts">
            <dt>{t('console.users.col.fullName')}</dt>
            <dd>{user.fullName}</dd>
            <dt>{t('console.users.col.email')}</dt>
            <dd>{user.email}</dd>
            <dt>{t('console.users.col.profile')}</dt>
            <dd>{profileLabel(user.profile)}</dd>
            <dt>{t('console.users.col.lastLogin')}</dt>
            <dd>{user.lastLoginAt ? formatDateTime(user.lastLoginAt) : t('console.users.never')}</dd>
          </dl>
          <SecondFactor key={`${user.id}:${user.mfaMethod}`} user={user} canManage={canManage} onSaved={setUser} />
          {me.permissions.includes('certificates.read') ? <Certificates user={user} canRevoke={me.permissions.includes('certificates.manage')} /> : null}
          <SshKeys user={user} canManage={canManage} />
        </>
      )}
    </section>
  );
}
