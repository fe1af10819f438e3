// Certificates: the trusted CAs (install from a file, inactivate/activate, upload a CRL), the certificates
// bound to accounts (server-paged, filtered; revoke — the account stays active and binds a new one), and the
// usage log with its CSV export. Changes need certificates.manage; without it the page only reads.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, errorText, failed, query } from '../api.js';
import { formatDateTime, formatNumber, t, type MessageKey } from '../i18n.js';
import { toast } from '../toasts.js';
import type { Me } from '../types.js';
import { PAGE_SIZE, Pager } from './paging.js';
import { ListTable } from './list.js';

interface Ca {
  id: number;
  subject: string;
  issuer: string;
  notAfter: string;
  selfSigned: boolean;
  active: boolean;
}

interface Binding {
  id: number;
  username: string;
  subject: string;
  email: string;
  notAfter: string;
  status: 'bound' | 'revoked';
  lastUsedAt: string;
}

interface Usage {
  at: string;
  event: 'bind' | 'use' | 'failure' | 'revoke';
  username: string | null;
  subject: string | null;
  code: string | null;
  ip: string | null;
}

const DAY = 86_400_000;
const USAGE_ROWS = 50;

/** A file's bytes as base64 (the API takes PEM or DER alike this way). */
async function fileBase64(file: File): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function Expiry({ notAfter }: { notAfter: string }) {
  const left = Date.parse(notAfter) - Date.now();
  if (left <= 0) return <span class="badge warn">{t('console.certificates.expired')}</span>;
  if (left < 30 * DAY) return <span class="badge warn">{t('console.certificates.expiresSoon', { days: Math.ceil(left / DAY) })}</span>;
  return null;
}

/** A file input and a submit button; `send` gets the file's base64 (and may ask again, e.g. with force). */
function UploadForm({ id, headingKey, labelKey, submitKey, send }: { id: string; headingKey: MessageKey; labelKey: MessageKey; submitKey: MessageKey; send: (file: string, form: HTMLFormElement) => Promise<void> }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const onSubmit = async (ev: Event) => {
    ev.preventDefault();
    const form = ev.currentTarget as HTMLFormElement;
    const file = (form.elements.namedItem('file') as HTMLInputElement).files?.[0];
    setError('');
    if (!file) return setError(t('console.certificates.noFile'));
    setBusy(true);
    try {
      await send(await fileBase64(file), form);
      form.reset();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="panel" id={id} aria-labelledby={`${id}-heading`} onSubmit={(ev) => void onSubmit(ev)}>
      <h3 id={`${id}-heading`}>{t(headingKey)}</h3>
      <label>
        {t(labelKey)}
        <input type="file" name="file" id={`${id}-file`} accept=".pem,.crt,.cer,.der,.crl" />
      </label>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <button type="submit" id={`${id}-submit`} disabled={busy}>
        {t(submitKey)}
      </button>
    </form>
  );
}

function Authorities({ canManage }: { canManage: boolean }) {
  const [cas, setCas] = useState<Ca[] | null>(null);
  /** A refused install whose only problem is a name another key already has: offered again with force. */
  const [conflict, setConflict] = useState<{ subject: string; file: string } | null>(null);
  const load = () =>
    api<{ cas: Ca[] }>('GET', '/api/v1/pki/cas')
      .then((r) => setCas(r.cas))
      .catch((e) => failed(e));
  useEffect(() => void load(), []);

  const setActive = async (ca: Ca, active: boolean) => {
    try {
      await api('POST', `/api/v1/pki/cas/${ca.id}/${active ? 'enable' : 'disable'}`);
      toast(t(active ? 'console.certificates.enabled' : 'console.certificates.disabled', { subject: ca.subject }));
      void load();
    } catch (e) {
      failed(e);
    }
  };
  const install = async (file: string, force: boolean) => {
    try {
      const r = await api<{ cas: Ca[] }>('POST', '/api/v1/pki/cas', { file, ...(force ? { force: true } : {}) });
      setConflict(null);
      toast(t('console.certificates.installed', { subjects: r.cas.map((c) => c.subject).join('; ') }));
      void load();
    } catch (e) {
      const collisions = e instanceof ApiError && e.code === 'CA_SUBJECT_CONFLICT' ? (e.details as unknown as { collisions?: { collidesWith: { subject: string } }[] } | undefined)?.collisions : undefined;
      if (collisions?.length) {
        setConflict({ subject: collisions[0]!.collidesWith.subject, file });
        return;
      }
      throw e;
    }
  };

  return (
    <section aria-labelledby="cas-heading" id="cas">
      <h2 id="cas-heading">{t('console.certificates.cas')}</h2>
      <ListTable
        id="ca-list"
        items={cas}
        empty="console.certificates.cas.none"
        head={
          <>
            <th scope="col">{t('console.certificates.col.subject')}</th>
            <th scope="col">{t('console.certificates.col.issuer')}</th>
            <th scope="col">{t('console.certificates.col.validUntil')}</th>
            <th scope="col">{t('console.certificates.col.status')}</th>
            {canManage ? <th scope="col">{t('console.certificates.col.actions')}</th> : null}
          </>
        }
        row={(ca) => (
          <tr key={ca.id} data-subject={ca.subject} class={ca.active ? '' : 'failure'}>
            <th scope="row">{ca.subject}</th>
            <td>{ca.selfSigned ? t('console.certificates.selfSigned') : ca.issuer}</td>
            <td>
              {formatDateTime(ca.notAfter)}
              <Expiry notAfter={ca.notAfter} />
            </td>
            <td class="status">{ca.active ? t('console.certificates.active') : t('console.certificates.inactive')}</td>
            {canManage ? (
              <td class="actions">
                <button type="button" class="secondary" onClick={() => void setActive(ca, !ca.active)}>
                  {ca.active ? t('console.certificates.disable') : t('console.certificates.enable')}
                </button>
              </td>
            ) : null}
          </tr>
        )}
      />
      {canManage ? (
        <>
          <UploadForm id="ca-install" headingKey="console.certificates.install" labelKey="console.certificates.installFile" submitKey="console.certificates.installSubmit" send={(file) => install(file, false)} />
          {conflict ? (
            <div class="panel" role="alertdialog" aria-labelledby="ca-conflict-text" id="ca-conflict">
              <p id="ca-conflict-text" class="error">
                {t('console.certificates.conflict', { subject: conflict.subject })}
              </p>
              <button type="button" id="ca-force" onClick={() => void install(conflict.file, true).catch((e) => failed(e))}>
                {t('console.certificates.force')}
              </button>
              <button type="button" class="secondary" onClick={() => setConflict(null)}>
                {t('console.certificates.cancel')}
              </button>
            </div>
          ) : null}
          <UploadForm
            id="crl-upload"
            headingKey="console.certificates.crl"
            labelKey="console.certificates.crlFile"
            submitKey="console.certificates.crlSubmit"
            send={async (file) => {
              const r = await api<{ crl: { subject: string; entries: number } }>('POST', '/api/v1/pki/crls', { file });
              toast(t('console.certificates.crlInstalled', { subject: r.crl.subject, entries: formatNumber(r.crl.entries) }));
            }}
          />
        </>
      ) : null}
    </section>
  );
}

/**
 * The certificates bound to accounts that match `filter`, a server page at a time, with revoke (confirmed: the
 * account stays active). The Certificates page filters them; a user's page shows that account's.
 */
export function BindingList({ filter, canRevoke, showUser, empty }: { filter: { user: string; status: string }; canRevoke: boolean; showUser: boolean; empty: MessageKey }) {
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<{ certificates: Binding[]; total: number } | null>(null);
  const [confirming, setConfirming] = useState<Binding | null>(null);
  const load = () =>
    api<{ certificates: Binding[]; total: number }>('GET', `/api/v1/certificates${query({ user: filter.user, status: filter.status, limit: PAGE_SIZE, offset })}`)
      .then(setPage)
      .catch((e) => {
        // An unknown user name is a 404 from the API: for a filter that is simply no match.
        if (e instanceof ApiError && e.status === 404) setPage({ certificates: [], total: 0 });
        else failed(e);
      });
  useEffect(() => void load(), [filter.user, filter.status, offset]);

  const revoke = async (b: Binding) => {
    try {
      await api('POST', `/api/v1/certificates/${b.id}/revoke`);
      toast(t('console.certificates.revokedDone', { user: b.username }));
      setConfirming(null);
      void load();
    } catch (e) {
      failed(e);
    }
  };

  return (
    <>
      {confirming ? (
        <div class="panel" role="alertdialog" aria-labelledby="revoke-text" id="revoke-confirm">
          <p id="revoke-text">{t('console.certificates.revokeConfirm', { user: confirming.username })}</p>
          <button type="button" id="revoke-yes" onClick={() => void revoke(confirming)}>
            {t('console.certificates.revokeYes')}
          </button>
          <button type="button" class="secondary" onClick={() => setConfirming(null)}>
            {t('console.certificates.cancel')}
          </button>
        </div>
      ) : null}
      <ListTable
        id="binding-list"
        items={page === null ? null : page.certificates}
        empty={empty}
        head={
          <>
            {showUser ? <th scope="col">{t('console.certificates.col.user')}</th> : null}
            <th scope="col">{t('console.certificates.col.subject')}</th>
            <th scope="col">{t('console.certificates.col.email')}</th>
            <th scope="col">{t('console.certificates.col.validUntil')}</th>
            <th scope="col">{t('console.certificates.col.lastUsed')}</th>
            <th scope="col">{t('console.certificates.col.status')}</th>
            {canRevoke ? <th scope="col">{t('console.certificates.col.actions')}</th> : null}
          </>
        }
        row={(b) => (
          <tr key={b.id} data-username={b.username} data-status={b.status}>
            {showUser ? <th scope="row">{b.username}</th> : null}
            <td>{b.subject}</td>
            <td>{b.email}</td>
            <td>
              {formatDateTime(b.notAfter)}
              <Expiry notAfter={b.notAfter} />
            </td>
            <td>{formatDateTime(b.lastUsedAt)}</td>
            <td>{b.status === 'bound' ? t('console.certificates.bound') : t('console.certificates.revoked')}</td>
            {canRevoke ? (
              <td class="actions">
                {b.status === 'bound' ? (
                  <button type="button" class="secondary" onClick={() => setConfirming(b)}>
                    {t('console.certificates.revoke')}
                  </button>
                ) : null}
              </td>
            ) : null}
          </tr>
        )}
      />
      {page && page.certificates.length > 0 ? <Pager offset={offset} shown={page.certificates.length} total={page.total} onPage={setOffset} /> : null}
    </>
  );
}

function Bindings({ canManage }: { canManage: boolean }) {
  const [filter, setFilter] = useState({ user: '', status: '' });
  return (
    <section aria-labelledby="bindings-heading" id="bindings">
      <h2 id="bindings-heading">{t('console.certificates.bindings')}</h2>
      <form
        class="filters"
        onSubmit={(ev) => {
          ev.preventDefault();
          const f = new FormData(ev.currentTarget as HTMLFormElement);
          setFilter({ user: String(f.get('user') ?? '').trim(), status: String(f.get('status') ?? '') });
        }}
      >
        <label>
          {t('console.certificates.filterUser')}
          <input name="user" id="binding-user" maxLength={64} autoComplete="off" />
        </label>
        <label>
          {t('console.certificates.filterStatus')}
          <select name="status" id="binding-status">
            <option value="">{t('console.certificates.anyStatus')}</option>
            <option value="bound">{t('console.certificates.bound')}</option>
            <option value="revoked">{t('console.certificates.revoked')}</option>
          </select>
        </label>
        <button type="submit" id="binding-filter">
          {t('console.certificates.filter')}
        </button>
      </form>
      {/* A new filter starts again at its first page. */}
      <BindingList key={`${filter.user}\n${filter.status}`} filter={filter} canRevoke={canManage} showUser empty="console.certificates.bindings.none" />
    </section>
  );
}

/** A date input's value as the start (or, for `until`, the end) of that day in the browser's zone, ISO. */
function dayBound(value: string, end: boolean): string | undefined {
  if (!value) return undefined;
  const d = new Date(`${value}T00:00:00`);
  if (end) d.setDate(d.getDate() + 1);
  return d.toISOString();
}

function UsageLog() {
  const [filter, setFilter] = useState<{ user?: string; since?: string; until?: string }>({});
  const [rows, setRows] = useState<Usage[] | null>(null);
  useEffect(() => {
    api<{ usage: Usage[] }>('GET', `/api/v1/certificates/usage${query({ ...filter, limit: USAGE_ROWS })}`)
      .then((r) => setRows(r.usage))
      .catch((e) => {
        if (e instanceof ApiError && e.status === 404) setRows([]);
        else failed(e);
      });
  }, [filter]);
  return (
    <section aria-labelledby="usage-heading" id="usage">
      <h2 id="usage-heading">{t('console.certificates.usage')}</h2>
      <form
        class="filters"
        onSubmit={(ev) => {
          ev.preventDefault();
          const f = new FormData(ev.currentTarget as HTMLFormElement);
          const user = String(f.get('user') ?? '').trim();
          const since = dayBound(String(f.get('since') ?? ''), false);
          const until = dayBound(String(f.get('until') ?? ''), true);
          setFilter({ ...(user ? { user } : {}), ...(since ? { since } : {}), ...(until ? { until } : {}) });
        }}
      >
        <label>
          {t('console.certificates.filterUser')}
          <input name="user" id="usage-user" maxLength={64} autoComplete="off" />
        </label>
        <label>
          {t('console.certificates.since')}
          <input name="since" id="usage-since" type="date" />
        </label>
        <label>
          {t('console.certificates.until')}
          <input name="until" id="usage-until" type="date" />
        </label>
        <button type="submit" id="usage-filter">
          {t('console.certificates.filter')}
        </button>
        <a class="button secondary" id="usage-csv" href={`/api/v1/certificates/usage${query({ ...filter, format: 'csv', limit: 10_000 })}`} download="certificate-usage.csv">
          {t('console.certificates.csv')}
        </a>
      </form>
      <p class="note">{t('console.certificates.usage.note', { count: formatNumber(USAGE_ROWS) })}</p>
      <ListTable
        id="usage-list"
        items={rows}
        empty="console.certificates.usage.none"
        head={
          <>
            <th scope="col">{t('console.certificates.col.at')}</th>
            <th scope="col">{t('console.certificates.col.event')}</th>
            <th scope="col">{t('console.certificates.col.user')}</th>
            <th scope="col">{t('console.certificates.col.subject')}</th>
            <th scope="col">{t('console.certificates.col.code')}</th>
            <th scope="col">{t('console.certificates.col.ip')}</th>
          </>
        }
        row={(u, i) => (
          <tr key={i} data-event={u.event} class={u.event === 'failure' ? 'failure' : ''}>
            <td>{formatDateTime(u.at)}</td>
            <td>{t(`console.certificates.event.${u.event}`)}</td>
            <td>{u.username ?? ''}</td>
            <td>{u.subject ?? ''}</td>
            <td>{u.code ?? ''}</td>
            <td>{u.ip ?? ''}</td>
          </tr>
        )}
      />
    </section>
  );
}

export function CertificatesPage({ me }: { me: Me }) {
  const canManage = me.permissions.includes('certificates.manage');
  return (
    <section aria-labelledby="page-heading">
      <h1 id="page-heading" tabIndex={-1}>
        {t('console.certificates.heading')}
      </h1>
      <Authorities canManage={canManage} />
      <Bindings canManage={canManage} />
      <UsageLog />
    </section>
  );
}
