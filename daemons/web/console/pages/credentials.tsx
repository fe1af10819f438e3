// Credentials: the server-paged list with a text filter (in the address), create and edit (the secret is a
// write-only field: never shown, and left empty on edit it stays as it was), disable/enable, and "view
// password": the user's standing from the one access decision, a reason asked in a dialog, or an approval
// request when the decision wants one; then the secret shown for REVEAL_SECONDS with a visible countdown, a
// "hide now" and a copy button, and for a split (PCI) credential the half this viewer holds, said as such.
// Hidden, the secret leaves the page: the element that held it is gone, nothing keeps a copy.
// A password viewer without devices.read lists what their groups cover (the core's "my devices" answer).
// /console/credentials/files is the protected files view (protected-files.tsx); status control and rotation
// are credential-rotation.tsx's.
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, query } from '../api.js';
import { t } from '../i18n.js';
import { navigate, useLocation } from '../router.js';
import { toast } from '../toasts.js';
import type { Me } from '../types.js';
import { PAGE_SIZE, Pager } from './paging.js';
import { failureText, Modal, Picker, ReasonDialog, searchDevices, Tabs } from './credentials-parts.js';
import { ProtectedFiles } from './protected-files.js';
import { PasswordCheckCell, RotationActions, type RotatableCredential } from './credential-rotation.js';
import {
  CREDENTIAL_KINDS,
  SECRET_KINDS,
  type AccessRequest,
  type Credential,
  type Decision,
  type MyDevice,
  type PasswordViewState,
  type RevealedSecret,
  type ViewState,
} from './credentials-types.js';

/** How long a revealed secret stays on the page. */
export const REVEAL_SECONDS = 30;

function kindLabel(kind: string): string {
  return (CREDENTIAL_KINDS as readonly string[]).includes(kind) ? t(`console.credentials.kind.${kind as (typeof CREDENTIAL_KINDS)[number]}`) : kind;
}

function stateLabel(s: PasswordViewState): string {
  const label = t(`console.credentials.state.${s.state}`);
  return (s.state === 'needs-approval' || s.state === 'requested') && s.approvalsNeeded ? `${label} (${t('console.credentials.approvalsNeeded', { count: s.approvalsNeeded })})` : label;
}

// ---- create and edit

function CredentialForm({ editing, onSaved, onCancel }: { editing: Credential | null; onSaved: (c: Credential) => void; onCancel: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [secretKind, setSecretKind] = useState<'password' | 'ssh-key'>(editing?.secretKind ?? 'password');
  // A new credential needs its secret; so does one whose secret changes type (a password kept as an SSH key is no key).
  const secretNeeded = !editing || secretKind !== editing.secretKind;
  const heading = useRef<HTMLHeadingElement>(null);
  useLayoutEffect(() => heading.current?.focus(), []);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const form = new FormData(ev.currentTarget as HTMLFormElement);
    const secret = String(form.get('secret') ?? '');
    const body: Record<string, unknown> = {
      username: String(form.get('username') ?? '').trim(),
      kind: String(form.get('kind') ?? ''),
      secretKind,
      domain: String(form.get('domain') ?? '').trim(),
      extraInfo: String(form.get('extraInfo') ?? '').trim(),
      splitView: form.get('splitView') === 'on',
    };
    // Write-only: a secret is sent only when one was typed; on edit, nothing typed keeps the stored one.
    if (secret !== '') body.secret = secret;
    if (!editing) body.deviceId = Number(form.get('deviceId'));
    setBusy(true);
    setError('');
    try {
      const r = editing
        ? await api<{ credential: Credential }>('PUT', `/api/v1/credentials/${editing.id}`, body)
        : await api<{ credential: Credential }>('POST', '/api/v1/credentials', body);
      onSaved(r.credential);
    } catch (e) {
      setError(failureText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="panel" id="credential-form" onSubmit={(ev) => void submit(ev)} aria-labelledby="credential-form-heading" autoComplete="off">
      <h2 id="credential-form-heading" ref={heading} tabIndex={-1}>
        {editing ? t('console.credentials.editHeading', { username: editing.username, hostname: editing.hostname }) : t('console.credentials.createHeading')}
      </h2>
      {editing ? null : <Picker id="cred-device" name="deviceId" legendKey="console.credentials.col.device" chooseKey="console.credentials.picker.chooseDevice" search={searchDevices} />}
      <div class="grid">
        <label>
          {t('console.credentials.col.username')}
          <input name="username" id="cred-username" required maxLength={255} defaultValue={editing?.username ?? ''} />
        </label>
        <label>
          {t('console.credentials.col.kind')}
          <select name="kind" id="cred-kind" defaultValue={editing?.kind ?? 'local-privileged'}>
            {CREDENTIAL_KINDS.map((k) => (
              <option key={k} value={k}>
                {kindLabel(k)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('console.credentials.secretKind')}
          <select name="secretKind" id="cred-secret-kind" value={secretKind} onChange={(ev) => setSecretKind((ev.currentTarget as HTMLSelectElement).value as 'password' | 'ssh-key')}>
            {SECRET_KINDS.map((k) => (
              <option key={k} value={k}>
                {t(`console.credentials.secretKind.${k}`)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {editing ? t('console.credentials.secretNew') : t('console.credentials.secret')}
          {secretKind === 'ssh-key' ? (
            <textarea name="secret" id="cred-secret" required={secretNeeded} rows={4} spellcheck={false} aria-describedby="cred-secret-note" />
          ) : (
            <input name="secret" id="cred-secret" type="password" required={secretNeeded} autoComplete="new-password" aria-describedby="cred-secret-note" />
          )}
        </label>
        <label>
          {t('console.credentials.domain')}
          <input name="domain" id="cred-domain" maxLength={255} defaultValue={editing?.domain ?? ''} />
        </label>
        <label>
          {t('console.credentials.extraInfo')}
          <input name="extraInfo" id="cred-extra" maxLength={1024} defaultValue={editing?.extraInfo ?? ''} />
        </label>
      </div>
      <p class="note" id="cred-secret-note">
        {editing ? t('console.credentials.secretKeep') : t('console.credentials.secretWriteOnly')}
      </p>
      <label class="check">
        <input type="checkbox" name="splitView" id="cred-split" defaultChecked={editing?.splitView ?? false} />
        {t('console.credentials.splitView')}
      </label>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <button type="submit" id="cred-submit" disabled={busy}>
        {editing ? t('console.credentials.save') : t('console.credentials.createSubmit')}
      </button>
      <button type="button" class="secondary" onClick={onCancel}>
        {t('console.credentials.cancel')}
      </button>
    </form>
  );
}

// ---- view password

type Flow =
  | { step: 'checking' }
  | { step: 'reason'; decision: Extract<Decision, { outcome: 'allowed' }> }
  | { step: 'approval'; approvalsNeeded: number }
  | { step: 'requested'; request: AccessRequest }
  | { step: 'denied'; rule: string };

/** From "View password" to the secret: ask the decision, then a reason, or an approval request, or say no. */
function ViewFlow({ credential, onRevealed, onClose, onRequested }: { credential: Credential; onRevealed: (r: RevealedSecret) => void; onClose: () => void; onRequested: () => void }) {
  const [flow, setFlow] = useState<Flow>({ step: 'checking' });
  useEffect(() => {
    let live = true;
    api<{ decision: Decision }>('GET', `/api/v1/my/decision${query({ device: credential.deviceId, credential: credential.id, purpose: 'password-view' })}`)
      .then(({ decision }) => {
        if (!live) return;
        if (decision.outcome === 'allowed') setFlow({ step: 'reason', decision });
        else if (decision.outcome === 'approval-required') setFlow({ step: 'approval', approvalsNeeded: decision.approvalsNeeded });
        else setFlow({ step: 'denied', rule: decision.rule });
      })
      .catch((e) => {
        toast(failureText(e), 'error');
        onClose();
      });
    return () => {
      live = false;
    };
  }, [credential.id]);

  const target = { username: credential.username, hostname: credential.hostname };
  if (flow.step === 'checking') return null;
  if (flow.step === 'reason') {
    return (
      <ReasonDialog
        id="view"
        heading={t('console.credentials.reason.heading', target)}
        submit={t('console.credentials.reason.submit')}
        onClose={onClose}
        onSubmit={async (reason) => {
          try {
            onRevealed(await api<RevealedSecret>('POST', `/api/v1/credentials/${credential.id}/view`, { reason }));
            return null;
          } catch (e) {
            return failureText(e);
          }
        }}
      />
    );
  }
  if (flow.step === 'approval') {
    return (
      <ReasonDialog
        id="approval"
        heading={t('console.credentials.approval.heading', target)}
        intro={<p>{t('console.credentials.approval.note', { count: flow.approvalsNeeded })}</p>}
        submit={t('console.credentials.approval.submit')}
        onClose={onClose}
        onSubmit={async (reason) => {
          try {
            const r = await api<{ request: AccessRequest }>('POST', '/api/v1/access-requests', { deviceId: credential.deviceId, credentialId: credential.id, purpose: 'password-view', reason });
            setFlow({ step: 'requested', request: r.request });
            onRequested();
            return null;
          } catch (e) {
            return failureText(e);
          }
        }}
      />
    );
  }
  const message =
    flow.step === 'requested'
      ? t('console.credentials.approval.pending', { id: flow.request.id, given: flow.request.approvals, needed: flow.request.approvalsNeeded })
      : flow.rule.startsWith('outside-time-window')
        ? t('console.credentials.denied.outsideWindow')
        : t('console.credentials.denied', target);
  return (
    <Modal id="view-outcome" labelledBy="view-outcome-text" onClose={onClose}>
      <p id="view-outcome-text">{message}</p>
      <button type="button" id="view-outcome-close" autoFocus onClick={onClose}>
        {t('console.credentials.close')}
      </button>
    </Modal>
  );
}

/**
 * The revealed secret, for REVEAL_SECONDS (read from the clock, so a slow tab hides on time): a countdown, hide
 * now, copy. When it hides, this component (and the only element holding the secret) leaves the page.
 */
function Reveal({ credential, revealed, onHide }: { credential: Credential; revealed: RevealedSecret; onHide: () => void }) {
  const [left, setLeft] = useState(REVEAL_SECONDS);
  const [copied, setCopied] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  useLayoutEffect(() => heading.current?.focus(), []);
  useEffect(() => {
    const until = Date.now() + REVEAL_SECONDS * 1000;
    const hide = setTimeout(onHide, REVEAL_SECONDS * 1000);
    const tick = setInterval(() => {
      const s = Math.ceil((until - Date.now()) / 1000);
      if (s <= 0) onHide();
      else setLeft(s);
    }, 1000);
    return () => {
      clearTimeout(hide);
      clearInterval(tick);
    };
  }, []);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(revealed.secret);
      setCopied(true);
    } catch {
      // No clipboard permission: select the text so Ctrl+C copies it.
      const el = document.getElementById('revealed-secret');
      if (el) window.getSelection()?.selectAllChildren(el);
    }
  };
  return (
    <section class="panel secret" id="reveal" aria-labelledby="reveal-heading">
      <h2 id="reveal-heading" ref={heading} tabIndex={-1}>
        {t('console.credentials.reveal.heading', { username: credential.username, hostname: credential.hostname })}
      </h2>
      <p id="reveal-part" class={revealed.part === 'whole' ? 'note' : 'badge warn'}>
        {t(`console.credentials.reveal.${revealed.part}`)}
      </p>
      <p>
        <code id="revealed-secret" class="revealed">
          {revealed.secret}
        </code>
      </p>
      <p class="note" id="reveal-countdown">
        {t('console.credentials.reveal.countdown', { seconds: left })}
      </p>
      <button type="button" id="reveal-copy" onClick={() => void copy()}>
        {copied ? t('console.credentials.reveal.copied') : t('console.credentials.reveal.copy')}
      </button>
      <button type="button" class="secondary" id="reveal-hide" onClick={onHide}>
        {t('console.credentials.reveal.hide')}
      </button>
    </section>
  );
}

// ---- the list

interface Listing {
  credentials: Credential[];
  total: number | null;
  more: boolean;
}

function fromMyDevices(devices: MyDevice[]): Credential[] {
  return devices.flatMap((d) =>
    d.credentials.map((c) => ({
      id: c.id,
      deviceId: d.id,
      hostname: d.hostname,
      kind: c.kind,
      username: c.username,
      secretKind: c.secretKind,
      domain: c.domain,
      extraInfo: '',
      splitView: false,
      status: c.status,
      passwordView: { state: (c.states['password-view']?.state ?? 'unavailable') as ViewState },
    })),
  );
}

function CredentialList({ me }: { me: Me }) {
  const { search } = useLocation();
  const q = search.get('q') ?? '';
  const offset = Math.max(0, Number(search.get('offset')) || 0);
  const canRead = me.permissions.includes('devices.read');
  const canView = me.permissions.includes('passwords.view');
  const canManage = me.permissions.includes('credentials.manage');

  const [list, setList] = useState<Listing | null>(null);
  const [version, setVersion] = useState(0);
  const [form, setForm] = useState<{ editing: Credential | null } | null>(null);
  const [viewing, setViewing] = useState<Credential | null>(null);
  const [revealed, setRevealed] = useState<{ credential: Credential; secret: RevealedSecret; n: number } | null>(null);
  const [busyId, setBusyId] = useState<number | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    let live = true;
    // With devices.read: every credential. A password viewer without it: what their groups cover.
    const load = canRead
      ? api<{ credentials: Credential[]; total: number }>('GET', `/api/v1/credentials${query({ q, limit: PAGE_SIZE, offset })}`).then((r) => ({ credentials: r.credentials, total: r.total, more: false }))
      : api<{ devices: MyDevice[]; more: boolean }>('GET', `/api/v1/my/devices${query({ q, limit: PAGE_SIZE, offset })}`).then((r) => ({ credentials: fromMyDevices(r.devices), total: null, more: r.more }));
    load.then((r) => live && setList(r)).catch((e) => toast(failureText(e), 'error'));
    return () => {
      live = false;
    };
  }, [q, offset, version, canRead]);

  const go = (next: { q?: string; offset?: number }) => {
    const v = { q, offset, ...next };
    navigate(`/console/credentials${query({ q: v.q, offset: v.offset || undefined })}`);
  };

  const hide = () => {
    setRevealed(null);
    heading.current?.focus();
  };

  const setStatus = async (c: Credential, action: 'disable' | 'enable') => {
    setBusyId(c.id);
    try {
      await api('POST', `/api/v1/credentials/${c.id}/${action}`);
      toast(t(action === 'disable' ? 'console.credentials.disabledToast' : 'console.credentials.enabledToast', { username: c.username, hostname: c.hostname }));
      setVersion((v) => v + 1);
    } catch (e) {
      toast(failureText(e), 'error');
    } finally {
      setBusyId(null);
    }
  };

  return (
    <section>
      <div class="page-head">
        <h1 tabIndex={-1} ref={heading}>
          {t('console.credentials.heading')}
        </h1>
        {canManage && canRead && !form ? (
          <button type="button" id="new-credential" onClick={() => setForm({ editing: null })}>
            {t('console.credentials.create')}
          </button>
        ) : null}
      </div>
      <Tabs current={canView ? 'credentials' : null} />

      {revealed ? <Reveal key={revealed.n} credential={revealed.credential} revealed={revealed.secret} onHide={hide} /> : null}

      {form ? (
        <CredentialForm
          key={form.editing?.id ?? 'new'}
          editing={form.editing}
          onCancel={() => setForm(null)}
          onSaved={(c) => {
            setForm(null);
            toast(t(form.editing ? 'console.credentials.savedToast' : 'console.credentials.createdToast', { username: c.username }));
            setVersion((v) => v + 1);
          }}
        />
      ) : null}

      {viewing ? (
        <ViewFlow
          credential={viewing}
          onClose={() => setViewing(null)}
          onRequested={() => {
            toast(t('console.credentials.approval.sentToast'));
            setVersion((v) => v + 1);
          }}
          onRevealed={(secret) => {
            const credential = viewing;
            setViewing(null);
            setRevealed((r) => ({ credential, secret, n: (r?.n ?? 0) + 1 }));
            setVersion((v) => v + 1);
          }}
        />
      ) : null}

      <form
        class="filters"
        role="search"
        id="credential-filter"
        key={q}
        onSubmit={(ev) => {
          ev.preventDefault();
          go({ q: String(new FormData(ev.currentTarget as HTMLFormElement).get('q') ?? '').trim(), offset: 0 });
        }}
      >
        <label>
          {t('console.credentials.filter')}
          <input type="search" name="q" id="credential-q" defaultValue={q} maxLength={253} />
        </label>
        <button type="submit" id="credential-filter-submit">
          {t('console.filter.apply')}
        </button>
      </form>

      {list === null ? (
        <p aria-busy="true">{t('console.loading')}</p>
      ) : list.credentials.length === 0 ? (
        <p class="empty">{t('console.empty')}</p>
      ) : (
        <div class="table-wrap">
          <table id="credentials">
            <thead>
              <tr>
                <th scope="col">{t('console.credentials.col.device')}</th>
                <th scope="col">{t('console.credentials.col.username')}</th>
                <th scope="col">{t('console.credentials.col.kind')}</th>
                {canView ? <th scope="col">{t('console.credentials.col.viewState')}</th> : null}
                {canRead ? <th scope="col">{t('console.rotation.col')}</th> : null}
                <th scope="col">{t('console.credentials.col.status')}</th>
                {canView || canManage ? <th scope="col">{t('console.credentials.col.actions')}</th> : null}
              </tr>
            </thead>
            <tbody>
              {list.credentials.map((c) => {
                const state = c.passwordView?.state ?? 'unavailable';
                return (
                  <tr key={c.id} data-credential={`${c.username}@${c.hostname}`}>
                    <td>{c.hostname}</td>
                    <th scope="row" id={`credential-${c.id}`}>
                      {c.domain ? `${c.domain}\\${c.username}` : c.username}
                    </th>
                    <td>{kindLabel(c.kind)}</td>
                    {canView ? <td class="view-state">{c.passwordView ? stateLabel(c.passwordView) : null}</td> : null}
                    {canRead ? <PasswordCheckCell status={(c as RotatableCredential).passwordStatus} /> : null}
                    <td class="status">{t(`console.credentials.status.${c.status}`)}</td>
                    {canView || canManage ? (
                      <td class="actions">
                        {canView && (state === 'allowed' || state === 'reason-required') ? (
                          <button type="button" aria-describedby={`credential-${c.id}`} onClick={() => setViewing(c)}>
                            {t('console.credentials.view')}
                          </button>
                        ) : null}
                        {canView && state === 'needs-approval' ? (
                          <button type="button" class="secondary" aria-describedby={`credential-${c.id}`} onClick={() => setViewing(c)}>
                            {t('console.credentials.requestApproval')}
                          </button>
                        ) : null}
                        {canManage && canRead ? (
                          <button type="button" class="secondary" aria-describedby={`credential-${c.id}`} onClick={() => setForm({ editing: c })}>
                            {t('console.credentials.edit')}
                          </button>
                        ) : null}
                        {canManage && canRead ? (
                          <button type="button" class="secondary" aria-describedby={`credential-${c.id}`} disabled={busyId === c.id} onClick={() => void setStatus(c, c.status === 'active' ? 'disable' : 'enable')}>
                            {c.status === 'active' ? t('console.credentials.disable') : t('console.credentials.enable')}
                          </button>
                        ) : null}
                        {canManage && canRead ? <RotationActions credential={c} onDone={() => setVersion((v) => v + 1)} /> : null}
                      </td>
                    ) : null}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {list && list.total !== null ? <Pager offset={offset} shown={list.credentials.length} total={list.total} onPage={(o) => go({ offset: o })} /> : null}
      {list && list.total === null && (offset > 0 || list.more) ? (
        <div class="pager">
          <button type="button" class="secondary" disabled={offset === 0} onClick={() => go({ offset: Math.max(0, offset - PAGE_SIZE) })}>
            {t('console.paging.previous')}
          </button>
          <button type="button" class="secondary" disabled={!list.more} onClick={() => go({ offset: offset + PAGE_SIZE })}>
            {t('console.paging.next')}
          </button>
        </div>
      ) : null}
    </section>
  );
}

export function CredentialsPage({ me }: { me: Me }) {
  const { path } = useLocation();
  if (path === '/console/credentials/files' && me.permissions.includes('passwords.view')) return <ProtectedFiles me={me} />;
  return <CredentialList me={me} />;
}
