// Users: the server-paged list with a text and status filter (kept in the address, so back and forward and a
// shared link work), creating a user, disable/enable, unlock and password reset. A one-time password is shown
// once, in a panel the administrator closes; it is never kept after that.
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, errorText, failed, query } from '../api.js';
import { formatDateTime, profileLabel, profileNames, t } from '../i18n.js';
import { followLink, navigate, useLocation } from '../router.js';
import { toast } from '../toasts.js';
import type { Me, User } from '../types.js';
import { PAGE_SIZE, Pager } from './paging.js';
import { ListTable } from './list.js';

const STATUSES = ['active', 'disabled', 'locked'] as const;

function statusLabel(u: User): string {
  return u.status === 'disabled' ? t('console.users.status.disabled') : t('console.users.status.active');
}

function OneTimePassword({ username, password, onDone }: { username: string; password: string; onDone: () => void }) {
  const heading = useRef<HTMLHeadingElement>(null);
  const [copied, setCopied] = useState(false);
  useLayoutEffect(() => heading.current?.focus(), []);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(password);
      setCopied(true);
    } catch {
      // No clipboard permission: select the text so Ctrl+C copies it.
      const range = document.createRange();
      const code = document.getElementById('one-time-password');
      if (code) {
        range.selectNodeContents(code);
        window.getSelection()?.removeAllRanges();
        window.getSelection()?.addRange(range);
      }
    }
  };
  return (
    <section class="panel secret" aria-labelledby="one-time-heading" id="one-time">
      <h2 id="one-time-heading" ref={heading} tabIndex={-1}>
        {t('console.users.oneTimeHeading', { username })}
      </h2>
      <p>
        <code id="one-time-password">{password}</code>
      </p>
      <p class="note">{t('console.users.oneTimeNote')}</p>
      <button type="button" id="copy-password" onClick={() => void copy()}>
        {copied ? t('console.users.copied') : t('console.users.copy')}
      </button>
      <button type="button" class="secondary" id="one-time-done" onClick={onDone}>
        {t('console.users.done')}
      </button>
    </section>
  );
}

function CreateUser({ onCreated, onCancel }: { onCreated: (user: User, password: string | undefined) => void; onCancel: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const first = useRef<HTMLInputElement>(null);
  useLayoutEffect(() => first.current?.focus(), []);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const form = new FormData(ev.currentTarget as HTMLFormElement);
    setBusy(true);
    setError('');
    try {
      const r = await api<{ user: User; oneTimePassword?: string }>('POST', '/api/v1/users', {
        username: String(form.get('username') ?? ''),
        fullName: String(form.get('fullName') ?? ''),
        email: String(form.get('email') ?? ''),
        profile: String(form.get('profile') ?? ''),
      });
      onCreated(r.user, r.oneTimePassword);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="panel" id="create-user" onSubmit={(ev) => void submit(ev)} aria-labelledby="create-heading">
      <h2 id="create-heading">{t('console.users.createHeading')}</h2>
      <div class="grid">
        <label>
          {t('console.users.col.username')}
          <input name="username" id="new-username" ref={first} required maxLength={64} autoComplete="off" />
        </label>
        <label>
          {t('console.users.col.fullName')}
          <input name="fullName" id="new-fullname" required maxLength={255} autoComplete="off" />
        </label>
        <label>
          {t('console.users.col.email')}
          <input name="email" id="new-email" type="email" maxLength={255} autoComplete="off" />
        </label>
        <label>
          {t('console.users.col.profile')}
          {/* No profile chosen in advance: an administrator account should never be one Enter away. */}
          <select name="profile" id="new-profile" required>
            <option value="" disabled selected>
              {t('console.users.chooseProfile')}
            </option>
            {profileNames().map((p) => (
              <option key={p} value={p}>
                {profileLabel(p)}
              </option>
            ))}
          </select>
        </label>
      </div>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <button type="submit" id="create-submit" disabled={busy}>
        {t('console.users.createSubmit')}
      </button>
      <button type="button" class="secondary" onClick={onCancel}>
        {t('console.users.cancel')}
      </button>
    </form>
  );
}

export function UsersPage({ me }: { me: Me }) {
  const { search } = useLocation();
  const q = search.get('q') ?? '';
  const status = search.get('status') ?? '';
  const offset = Math.max(0, Number(search.get('offset')) || 0);
  const canManage = me.permissions.includes('users.manage');

  const [list, setList] = useState<{ users: User[]; total: number } | null>(null);
  const [version, setVersion] = useState(0);
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<{ username: string; password: string } | null>(null);
  const [busyId, setBusyId] = useState<number | null>(null);

  useEffect(() => {
    let live = true;
    api<{ users: User[]; total: number }>('GET', `/api/v1/users${query({ q, status, limit: PAGE_SIZE, offset })}`)
      .then((r) => live && setList(r))
      .catch(failed);
    return () => {
      live = false;
    };
  }, [q, status, offset, version]);

  const go = (next: { q?: string; status?: string; offset?: number }) => {
    const v = { q, status, offset, ...next };
    navigate(`/console/users${query({ q: v.q, status: v.status, offset: v.offset || undefined })}`);
  };

  const filter = (ev: Event) => {
    ev.preventDefault();
    const form = new FormData(ev.currentTarget as HTMLFormElement);
    go({ q: String(form.get('q') ?? '').trim(), status: String(form.get('status') ?? ''), offset: 0 });
  };

  const act = async (u: User, action: 'disable' | 'enable' | 'unlock' | 'reset-password') => {
    setBusyId(u.id);
    try {
      const r = await api<{ user: User; oneTimePassword?: string }>('POST', `/api/v1/users/${u.id}/${action}`);
      if (action === 'reset-password' && r.oneTimePassword) {
        setSecret({ username: u.username, password: r.oneTimePassword });
        toast(t('console.users.passwordReset', { username: u.username }));
      } else {
        const done = { disable: 'console.users.disabledToast', enable: 'console.users.enabledToast', unlock: 'console.users.unlockedToast' } as const;
        toast(t(done[action as keyof typeof done], { username: u.username }));
      }
      setVersion((v) => v + 1);
    } catch (e) {
      failed(e);
    } finally {
      setBusyId(null);
    }
  };

  return (
    <section>
      <div class="page-head">
        <h1 tabIndex={-1}>{t('console.users.heading')}</h1>
        {canManage && !creating ? (
          <button type="button" id="new-user" onClick={() => setCreating(true)}>
            {t('console.users.create')}
          </button>
        ) : null}
      </div>

      {secret ? <OneTimePassword username={secret.username} password={secret.password} onDone={() => setSecret(null)} /> : null}

      {creating ? (
        <CreateUser
          onCancel={() => setCreating(false)}
          onCreated={(user, password) => {
            setCreating(false);
            toast(t('console.users.createdToast', { username: user.username }));
            if (password) setSecret({ username: user.username, password });
            setVersion((v) => v + 1);
          }}
        />
      ) : null}

      <form class="filters" role="search" id="user-filter" onSubmit={filter} key={`${q}|${status}`}>
        <label>
          {t('console.users.filter')}
          <input type="search" name="q" id="user-q" defaultValue={q} maxLength={256} />
        </label>
        <label>
          {t('console.users.col.status')}
          <select name="status" id="user-status" defaultValue={status}>
            <option value="">{t('console.users.status.any')}</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(`console.users.status.${s}`)}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" id="user-filter-submit">
          {t('console.filter.apply')}
        </button>
      </form>

      <ListTable
        id="users"
        items={list === null ? null : list.users}
        head={
          <>
            <th scope="col">{t('console.users.col.username')}</th>
            <th scope="col">{t('console.users.col.fullName')}</th>
            <th scope="col">{t('console.users.col.email')}</th>
            <th scope="col">{t('console.users.col.profile')}</th>
            <th scope="col">{t('console.users.col.status')}</th>
            <th scope="col">{t('console.users.col.lastLogin')}</th>
            {canManage ? <th scope="col">{t('console.users.col.actions')}</th> : null}
          </>
        }
        row={(u) => (
          <tr key={u.id} data-username={u.username}>
            <th scope="row" id={`user-${u.id}`}>
              <a href={`/console/users/${u.id}`} onClick={(ev) => followLink(ev, `/console/users/${u.id}`)}>
                {u.username}
              </a>
            </th>
            <td>{u.fullName}</td>
            <td>{u.email}</td>
            <td>{profileLabel(u.profile)}</td>
            <td class="status">
              {statusLabel(u)}
              {u.locked ? <span class="badge warn">{t('console.users.status.locked')}</span> : null}
            </td>
            <td>{u.lastLoginAt ? formatDateTime(u.lastLoginAt) : t('console.users.never')}</td>
            {canManage ? (
              <td class="actions">
                {/* The server refuses disabling yourself; the button is not offered. */}
                {u.id === me.user.id ? null : u.status === 'active' ? (
                  <button type="button" class="secondary" aria-describedby={`user-${u.id}`} disabled={busyId === u.id} onClick={() => void act(u, 'disable')}>
                    {t('console.users.disable')}
                  </button>
                ) : (
                  <button type="button" class="secondary" aria-describedby={`user-${u.id}`} disabled={busyId === u.id} onClick={() => void act(u, 'enable')}>
                    {t('console.users.enable')}
                  </button>
                )}
                {u.locked ? (
                  <button type="button" class="secondary" aria-describedby={`user-${u.id}`} disabled={busyId === u.id} onClick={() => void act(u, 'unlock')}>
                    {t('console.users.unlock')}
                  </button>
                ) : null}
                <button type="button" class="secondary" aria-describedby={`user-${u.id}`} disabled={busyId === u.id} onClick={() => void act(u, 'reset-password')}>
                  {t('console.users.resetPassword')}
                </button>
              </td>
            ) : null}
          </tr>
        )}
      />
      {list ? <Pager offset={offset} shown={list.users.length} total={list.total} onPage={(o) => go({ offset: o })} /> : null}
    </section>
  );
}
