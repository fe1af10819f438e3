// My access: what I may reach now and in what state — the core's answer per device, account and purpose
// (GET /api/v1/my/devices, server-paged, text filter kept in the address) — and what I can do about it:
// ask for access (reason and wanted period) or break the glass (reason required) where the decision says
// approval is needed, download an .rdp file carrying a one-time ticket for RDP, copy the ssh line for the
// terminal proxy. Below, my requests and their state (GET /api/v1/access-requests, server-paged).
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, errorText, failed, query } from '../api.js';
import { formatDateTime, formatNumber, t } from '../i18n.js';
import { followLink, navigate, useLocation } from '../router.js';
import { toast } from '../toasts.js';
import type { Me } from '../types.js';
import type { AccessRequestItem, MyCredential, MyDevice, MyDevicesPage, Purpose, TargetState } from './access-types.js';
import { PAGE_SIZE } from './paging.js';

const REQUESTS_SHOWN = 20;

/** Previous / next for a list of this page (two on one page: each with its own ids). */
function Pages({ id, text, hasPrevious, hasNext, onPrevious, onNext }: { id: string; text: string; hasPrevious: boolean; hasNext: boolean; onPrevious: () => void; onNext: () => void }) {
  return (
    <div class="pager" id={id}>
      <span class="range">{text}</span>
      <button type="button" class="secondary" disabled={!hasPrevious} onClick={onPrevious}>
        {t('console.paging.previous')}
      </button>
      <button type="button" class="secondary" disabled={!hasNext} onClick={onNext}>
        {t('console.paging.next')}
      </button>
    </div>
  );
}

function purposeLabel(p: Purpose): string {
  return p === 'ssh' ? t('console.myAccess.purpose.ssh') : p === 'rdp' ? t('console.myAccess.purpose.rdp') : t('console.myAccess.purpose.passwordView');
}

/** A state as a person reads it: the core's state, with the end of the grant it stands on. */
function stateLabel(s: TargetState): string {
  if (s.grant) return t(s.grant.emergency ? 'console.myAccess.state.emergencyUntil' : 'console.myAccess.state.approvedUntil', { at: formatDateTime(s.grant.endsAt) });
  return t(`console.myAccess.state.${s.state}`);
}

function stateClass(s: TargetState): string {
  return s.state === 'allowed' || s.state === 'reason-required' ? 'badge ok' : s.state === 'needs-approval' ? 'badge warn' : 'badge';
}

/** datetime-local text (the browser's local time) for an instant. */
function localInput(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function isoOf(local: string): string | undefined {
  if (!local) return undefined;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** The console's own terminal to this target (pages/terminal.tsx). */
function terminalHref(d: MyDevice, c: MyCredential): string {
  return `/console/my-access/terminal${query({ device: d.id, credential: c.id })}`;
}

/** The ssh command line for the terminal proxy: `user:credential@device@proxy` (the proxy's login-name grammar). */
function sshLine(me: Me, c: MyCredential, d: MyDevice, proxy: MyDevicesPage['sshProxy']): string {
  const port = proxy.port === 22 ? '' : `-p ${proxy.port} `;
  return `ssh ${port}${me.user.username}:${c.username}@${d.hostname}@${proxy.host}`;
}

type Asking = { device: MyDevice; credential: MyCredential; emergency: boolean; purposes: ('session' | 'password-view')[] };

function RequestForm({ asking, onDone, onCancel }: { asking: Asking; onDone: () => void; onCancel: () => void }) {
  const first = useRef<HTMLTextAreaElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  useLayoutEffect(() => first.current?.focus(), []);
  const now = Date.now();
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const form = new FormData(ev.currentTarget as HTMLFormElement);
    const startsAt = asking.emergency ? undefined : isoOf(String(form.get('startsAt') ?? ''));
    const endsAt = asking.emergency ? undefined : isoOf(String(form.get('endsAt') ?? ''));
    setBusy(true);
    setError('');
    try {
      await api('POST', '/api/v1/access-requests', {
        deviceId: asking.device.id,
        credentialId: asking.credential.id,
        purpose: String(form.get('purpose') ?? asking.purposes[0]),
        reason: String(form.get('reason') ?? ''),
        ...(startsAt ? { startsAt } : {}),
        ...(endsAt ? { endsAt } : {}),
        ...(asking.emergency ? { emergency: true } : {}),
      });
      toast(t(asking.emergency ? 'console.myAccess.emergencyToast' : 'console.myAccess.requestedToast', { device: asking.device.hostname }));
      onDone();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const title = asking.emergency ? 'console.myAccess.emergencyHeading' : 'console.myAccess.requestHeading';
  return (
    <form class={asking.emergency ? 'panel secret' : 'panel'} id="request-form" aria-labelledby="request-heading" onSubmit={(ev) => void submit(ev)}>
      <h2 id="request-heading">{t(title, { account: asking.credential.username, device: asking.device.hostname })}</h2>
      {asking.emergency ? <p class="note">{t('console.myAccess.emergencyNote')}</p> : null}
      <div class="grid">
        <label>
          {t('console.myAccess.reason')}
          <textarea name="reason" id="request-reason" ref={first} required minLength={3} maxLength={1024} rows={3} />
        </label>
        {asking.purposes.length > 1 ? (
          <label>
            {t('console.myAccess.for')}
            <select name="purpose" id="request-purpose">
              {asking.purposes.map((p) => (
                <option key={p} value={p}>
                  {p === 'session' ? t('console.myAccess.purpose.session') : t('console.myAccess.purpose.passwordView')}
                </option>
              ))}
            </select>
          </label>
        ) : (
          <input type="hidden" name="purpose" value={asking.purposes[0]} />
        )}
        {asking.emergency ? null : (
          <>
            <label>
              {t('console.myAccess.from')}
              <input type="datetime-local" name="startsAt" id="request-from" defaultValue={localInput(now)} />
            </label>
            <label>
              {t('console.myAccess.until')}
              <input type="datetime-local" name="endsAt" id="request-until" defaultValue={localInput(now + 3_600_000)} />
            </label>
          </>
        )}
      </div>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <button type="submit" id="request-submit" disabled={busy}>
        {asking.emergency ? t('console.myAccess.emergencySubmit') : t('console.myAccess.requestSubmit')}
      </button>
      <button type="button" class="secondary" onClick={onCancel}>
        {t('console.myAccess.cancel')}
      </button>
    </form>
  );
}

/** The file name a content-disposition header gives, or a fallback. */
function filenameOf(disposition: string | null, fallback: string): string {
  const m = /filename="([^"]+)"/.exec(disposition ?? '');
  return m?.[1] ?? fallback;
}

/**
 * Ask for an .rdp file and hand it to the browser as a download. Not through api(): the answer is a file, not
 * JSON. The ticket inside is good for one connection within a minute, so nothing keeps the file's text.
 */
async function downloadRdp(me: Me, device: MyDevice, credential: MyCredential, reason: string | undefined): Promise<void> {
  const res = await fetch('/api/v1/my/sessions/rdp', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', accept: 'application/x-rdp', 'x-csrf-token': me.csrfToken },
    body: JSON.stringify({ device: device.id, credential: credential.id, ...(reason ? { reason } : {}) }),
  });
  if (res.status === 401) {
    window.location.assign('/');
    return;
  }
  if (!res.ok) {
    const e = ((await res.json().catch(() => null)) ?? {}) as { error?: string; message?: string; details?: Record<string, string | number> };
    throw new ApiError(res.status, e.error ?? 'INPUT_INVALID', e.details, e.message ?? res.statusText);
  }
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filenameOf(res.headers.get('content-disposition'), `${device.hostname}.rdp`);
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function RdpReason({ device, credential, onDownload, onCancel }: { device: MyDevice; credential: MyCredential; onDownload: (reason: string) => void; onCancel: () => void }) {
  const first = useRef<HTMLTextAreaElement>(null);
  useLayoutEffect(() => first.current?.focus(), []);
  return (
    <form
      class="panel"
      id="rdp-reason-form"
      aria-labelledby="rdp-reason-heading"
      onSubmit={(ev) => {
        ev.preventDefault();
        onDownload(String(new FormData(ev.currentTarget).get('reason') ?? ''));
      }}
    >
      <h2 id="rdp-reason-heading">{t('console.myAccess.rdpReasonHeading', { account: credential.username, device: device.hostname })}</h2>
      <label>
        {t('console.myAccess.reason')}
        <textarea name="reason" id="rdp-reason" ref={first} required minLength={3} maxLength={1024} rows={2} />
      </label>
      <button type="submit" id="rdp-reason-submit">
        {t('console.myAccess.downloadRdp')}
      </button>
      <button type="button" class="secondary" onClick={onCancel}>
        {t('console.myAccess.cancel')}
      </button>
    </form>
  );
}

function SshLine({ line, id }: { line: string; id: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(line);
      setCopied(true);
    } catch {
      // No clipboard permission: select the line so Ctrl+C copies it.
      const el = document.getElementById(id);
      if (el) {
        const range = document.createRange();
        range.selectNodeContents(el);
        window.getSelection()?.removeAllRanges();
        window.getSelection()?.addRange(range);
      }
    }
  };
  return (
    <div class="ssh-line">
      <code id={id}>{line}</code>
      <button type="button" class="secondary" onClick={() => void copy()} aria-describedby={id}>
        {copied ? t('console.myAccess.copied') : t('console.myAccess.copySsh')}
      </button>
    </div>
  );
}

function requestStatusLabel(r: AccessRequestItem): string {
  if (r.status === 'pending') return t('console.myAccess.request.pending', { approvals: r.approvals, needed: r.approvalsNeeded });
  if (r.status === 'approved') return t(r.emergency ? 'console.myAccess.request.emergency' : 'console.myAccess.request.approved');
  return t(`console.myAccess.request.${r.status}`);
}

function MyRequests({ version }: { version: number }) {
  const [offset, setOffset] = useState(0);
  const [list, setList] = useState<{ requests: AccessRequestItem[]; total: number } | null>(null);
  useEffect(() => {
    let live = true;
    api<{ requests: AccessRequestItem[]; total: number }>('GET', `/api/v1/access-requests${query({ limit: REQUESTS_SHOWN, offset })}`)
      .then((r) => live && setList(r))
      .catch(failed);
    return () => {
      live = false;
    };
  }, [offset, version]);
  return (
    <section aria-labelledby="my-requests-heading">
      <h2 id="my-requests-heading">{t('console.myAccess.requestsHeading')}</h2>
      {list === null ? (
        <p aria-busy="true">{t('console.loading')}</p>
      ) : list.requests.length === 0 ? (
        <p class="empty">{t('console.myAccess.noRequests')}</p>
      ) : (
        <>
          <div class="table-wrap">
            <table id="my-requests">
              <thead>
                <tr>
                  <th scope="col">{t('console.myAccess.col.device')}</th>
                  <th scope="col">{t('console.myAccess.col.account')}</th>
                  <th scope="col">{t('console.myAccess.for')}</th>
                  <th scope="col">{t('console.myAccess.reason')}</th>
                  <th scope="col">{t('console.myAccess.col.period')}</th>
                  <th scope="col">{t('console.myAccess.col.status')}</th>
                </tr>
              </thead>
              <tbody>
                {list.requests.map((r) => (
                  <tr key={r.id} id={`my-request-${r.id}`} data-status={r.status}>
                    <th scope="row">{r.hostname ?? `#${r.deviceId}`}</th>
                    <td>{r.credentialUsername ?? `#${r.credentialId}`}</td>
                    <td>{r.purpose === 'session' ? t('console.myAccess.purpose.session') : t('console.myAccess.purpose.passwordView')}</td>
                    <td>{r.reason}</td>
                    <td>{t('console.myAccess.period', { from: formatDateTime(r.startsAt), until: formatDateTime(r.endsAt) })}</td>
                    <td class="request-status">{requestStatusLabel(r)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {list.total > REQUESTS_SHOWN ? (
            <Pages
              id="my-requests-pager"
              text={t('console.paging.range', { from: formatNumber(offset + 1), to: formatNumber(offset + list.requests.length), total: formatNumber(list.total) })}
              hasPrevious={offset > 0}
              hasNext={offset + list.requests.length < list.total}
              onPrevious={() => setOffset(Math.max(0, offset - REQUESTS_SHOWN))}
              onNext={() => setOffset(offset + REQUESTS_SHOWN)}
            />
          ) : null}
        </>
      )}
    </section>
  );
}

export function MyAccessPage({ me }: { me: Me }) {
  const { search } = useLocation();
  const q = search.get('q') ?? '';
  const offset = Math.max(0, Number(search.get('offset')) || 0);
  const [page, setPage] = useState<MyDevicesPage | null>(null);
  const [pending, setPending] = useState<AccessRequestItem[]>([]);
  const [version, setVersion] = useState(0);
  const [asking, setAsking] = useState<Asking | null>(null);
  const [rdpAsk, setRdpAsk] = useState<{ device: MyDevice; credential: MyCredential } | null>(null);

  useEffect(() => {
    let live = true;
    api<MyDevicesPage>('GET', `/api/v1/my/devices${query({ q, limit: PAGE_SIZE, offset })}`)
      .then((r) => live && setPage(r))
      .catch(failed);
    // My pending requests, to say "request pending" instead of offering a second one.
    api<{ requests: AccessRequestItem[] }>('GET', `/api/v1/access-requests${query({ status: 'pending', limit: 500 })}`)
      .then((r) => live && setPending(r.requests))
      .catch(() => live && setPending([]));
    return () => {
      live = false;
    };
  }, [q, offset, version]);

  const go = (next: { q?: string; offset?: number }) => {
    const v = { q, offset, ...next };
    navigate(`/console/my-access${query({ q: v.q, offset: v.offset || undefined })}`);
  };

  const rdp = async (device: MyDevice, credential: MyCredential, reason?: string) => {
    try {
      await downloadRdp(me, device, credential, reason);
      toast(t('console.myAccess.rdpToast', { device: device.hostname }));
      setRdpAsk(null);
    } catch (e) {
      failed(e);
    }
  };

  const pendingFor = (d: MyDevice, c: MyCredential, purpose: 'session' | 'password-view') =>
    pending.some((r) => r.deviceId === d.id && r.credentialId === c.id && r.purpose === purpose);

  // A purpose the profile never has (password view for a privileged-access user) would read "denied" on every
  // row: it is left out, not shown.
  const mayUse = (p: Purpose) => me.permissions.includes(p === 'password-view' ? 'passwords.view' : 'sessions.use');
  const rows = page?.devices.flatMap((d) => d.credentials.map((c) => ({ d, c }))) ?? [];
  const from = rows.length === 0 ? 0 : offset + 1;

  return (
    <section>
      <div class="page-head">
        <h1 tabIndex={-1}>{t('console.myAccess.heading')}</h1>
      </div>
      <p class="note">{t('console.myAccess.intro')}</p>

      {asking ? (
        <RequestForm
          asking={asking}
          onCancel={() => setAsking(null)}
          onDone={() => {
            setAsking(null);
            setVersion((v) => v + 1);
          }}
        />
      ) : null}
      {rdpAsk ? <RdpReason device={rdpAsk.device} credential={rdpAsk.credential} onCancel={() => setRdpAsk(null)} onDownload={(reason) => void rdp(rdpAsk.device, rdpAsk.credential, reason)} /> : null}

      <form
        class="filters"
        role="search"
        id="my-access-filter"
        key={q}
        onSubmit={(ev) => {
          ev.preventDefault();
          go({ q: String(new FormData(ev.currentTarget).get('q') ?? '').trim(), offset: 0 });
        }}
      >
        <label>
          {t('console.myAccess.filter')}
          <input type="search" name="q" id="my-access-q" defaultValue={q} maxLength={253} />
        </label>
        <button type="submit" id="my-access-filter-submit">
          {t('console.filter.apply')}
        </button>
      </form>

      {page === null ? (
        <p aria-busy="true">{t('console.loading')}</p>
      ) : rows.length === 0 ? (
        <p class="empty" id="my-access-empty">
          {t('console.myAccess.nothing')}
        </p>
      ) : (
        <div class="table-wrap">
          <table id="my-access">
            <thead>
              <tr>
                <th scope="col">{t('console.myAccess.col.device')}</th>
                <th scope="col">{t('console.myAccess.col.account')}</th>
                <th scope="col">{t('console.myAccess.col.state')}</th>
                <th scope="col">{t('console.myAccess.col.actions')}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map(({ d, c }) => {
                const sessionStates = c.protocols.map((p) => c.states[p]).filter((s): s is TargetState => s !== undefined);
                const askable: ('session' | 'password-view')[] = [];
                if (sessionStates.some((s) => s.state === 'needs-approval') && !pendingFor(d, c, 'session')) askable.push('session');
                if (c.states['password-view']?.state === 'needs-approval' && !pendingFor(d, c, 'password-view')) askable.push('password-view');
                const open = (p: Purpose) => c.states[p]?.state === 'allowed' || c.states[p]?.state === 'reason-required';
                const key = `${d.id}-${c.id}`;
                return (
                  <tr key={key} id={`target-${key}`} data-device={d.hostname} data-account={c.username}>
                    <th scope="row">
                      {d.hostname}
                      <span class="muted"> {d.address}</span>
                    </th>
                    <td>{c.domain ? `${c.domain}\\${c.username}` : c.username}</td>
                    <td>
                      <ul class="plain states">
                        {(Object.entries(c.states) as [Purpose, TargetState][]).filter(([p]) => mayUse(p)).map(([p, s]) => (
                          <li key={p} data-purpose={p} data-state={s.grant ? 'approved' : s.state}>
                            {purposeLabel(p)}: <span class={stateClass(s)}>{stateLabel(s)}</span>
                            {s.state === 'needs-approval' && pendingFor(d, c, p === 'password-view' ? 'password-view' : 'session') ? (
                              <span class="badge"> {t('console.myAccess.state.requested')}</span>
                            ) : null}
                          </li>
                        ))}
                      </ul>
                    </td>
                    <td class="actions">
                      {askable.length > 0 ? (
                        <>
                          <button type="button" id={`request-${key}`} onClick={() => setAsking({ device: d, credential: c, emergency: false, purposes: askable })}>
                            {t('console.myAccess.request')}
                          </button>
                          <button type="button" class="secondary" id={`emergency-${key}`} onClick={() => setAsking({ device: d, credential: c, emergency: true, purposes: askable })}>
                            {t('console.myAccess.emergency')}
                          </button>
                        </>
                      ) : null}
                      {open('rdp') ? (
                        <button
                          type="button"
                          id={`rdp-${key}`}
                          onClick={() => (c.states.rdp?.state === 'reason-required' ? setRdpAsk({ device: d, credential: c }) : void rdp(d, c))}
                        >
                          {t('console.myAccess.downloadRdp')}
                        </button>
                      ) : null}
                      {open('ssh') && me.permissions.includes('sessions.use') ? (
                        <a class="button" id={`terminal-${key}`} href={terminalHref(d, c)} onClick={(ev) => followLink(ev, terminalHref(d, c))}>
                          {t('console.terminal.open')}
                        </a>
                      ) : null}
                      {open('ssh') && page ? <SshLine id={`ssh-${key}`} line={sshLine(me, c, d, page.sshProxy)} /> : null}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {page !== null && (offset > 0 || page.more) ? (
        <Pages
          id="my-access-pager"
          text={t('console.myAccess.range', { from: formatNumber(from), to: formatNumber(offset + rows.length) })}
          hasPrevious={offset > 0}
          hasNext={page.more}
          onPrevious={() => go({ offset: Math.max(0, offset - PAGE_SIZE) })}
          onNext={() => go({ offset: offset + PAGE_SIZE })}
        />
      ) : null}

      <MyRequests version={version} />
    </section>
  );
}
