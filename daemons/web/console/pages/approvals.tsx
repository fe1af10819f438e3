// The approvals inbox: the requests waiting for my decision (GET /api/v1/access-requests/inbox, oldest first,
// server-paged), each approved or denied with a comment. Whether I may decide is the server's call (an
// approver of the request's group, never my own request); the page only asks.
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, errorText, failed, query } from '../api.js';
import { formatDateTime, t } from '../i18n.js';
import { navigate, useLocation } from '../router.js';
import { toast } from '../toasts.js';
import type { AccessRequestItem } from './access-types.js';
import { PAGE_SIZE, Pager } from './paging.js';

type Deciding = { request: AccessRequestItem; decision: 'approve' | 'deny' };

function DecisionForm({ deciding, onDone, onCancel }: { deciding: Deciding; onDone: () => void; onCancel: () => void }) {
  const first = useRef<HTMLTextAreaElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  useLayoutEffect(() => first.current?.focus(), []);
  const { request: r, decision } = deciding;
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const comment = String(new FormData(ev.currentTarget as HTMLFormElement).get('comment') ?? '').trim();
    setBusy(true);
    setError('');
    try {
      const done = await api<{ request: AccessRequestItem }>('POST', `/api/v1/access-requests/${r.id}/${decision}`, { comment });
      const who = { requester: r.requester ?? '', device: r.hostname ?? '' };
      toast(
        decision === 'deny'
          ? t('console.approvals.deniedToast', who)
          : done.request.status === 'approved'
            ? t('console.approvals.approvedToast', who)
            : t('console.approvals.approvalCountedToast', { ...who, approvals: done.request.approvals, needed: done.request.approvalsNeeded }),
      );
      onDone();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const heading = decision === 'approve' ? 'console.approvals.approveHeading' : 'console.approvals.denyHeading';
  return (
    <form class="panel" id="decision-form" aria-labelledby="decision-heading" onSubmit={(ev) => void submit(ev)}>
      <h2 id="decision-heading">{t(heading, { requester: r.requester ?? '', account: r.credentialUsername ?? '', device: r.hostname ?? '' })}</h2>
      <p class="note">{t('console.approvals.reasonGiven', { reason: r.reason })}</p>
      <label>
        {t('console.approvals.comment')}
        <textarea name="comment" id="decision-comment" ref={first} maxLength={1024} rows={3} required={decision === 'deny'} />
      </label>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <button type="submit" id="decision-submit" disabled={busy}>
        {decision === 'approve' ? t('console.approvals.approve') : t('console.approvals.deny')}
      </button>
      <button type="button" class="secondary" onClick={onCancel}>
        {t('console.approvals.cancel')}
      </button>
    </form>
  );
}

export function ApprovalsPage() {
  const { search } = useLocation();
  const offset = Math.max(0, Number(search.get('offset')) || 0);
  const [list, setList] = useState<{ requests: AccessRequestItem[]; total: number } | null>(null);
  const [version, setVersion] = useState(0);
  const [deciding, setDeciding] = useState<Deciding | null>(null);

  useEffect(() => {
    let live = true;
    api<{ requests: AccessRequestItem[]; total: number }>('GET', `/api/v1/access-requests/inbox${query({ limit: PAGE_SIZE, offset })}`)
      .then((r) => live && setList(r))
      .catch((e: unknown) => failed(e));
    return () => {
      live = false;
    };
  }, [offset, version]);

  return (
    <section>
      <div class="page-head">
        <h1 tabIndex={-1}>{t('console.approvals.heading')}</h1>
      </div>
      <p class="note">{t('console.approvals.intro')}</p>

      {deciding ? (
        <DecisionForm
          deciding={deciding}
          onCancel={() => setDeciding(null)}
          onDone={() => {
            setDeciding(null);
            setVersion((v) => v + 1);
          }}
        />
      ) : null}

      {list === null ? (
        <p aria-busy="true">{t('console.loading')}</p>
      ) : list.requests.length === 0 ? (
        <p class="empty" id="inbox-empty">
          {t('console.approvals.nothing')}
        </p>
      ) : (
        <>
          <div class="table-wrap">
            <table id="inbox">
              <thead>
                <tr>
                  <th scope="col">{t('console.approvals.col.requester')}</th>
                  <th scope="col">{t('console.approvals.col.device')}</th>
                  <th scope="col">{t('console.approvals.col.account')}</th>
                  <th scope="col">{t('console.approvals.col.purpose')}</th>
                  <th scope="col">{t('console.approvals.col.reason')}</th>
                  <th scope="col">{t('console.approvals.col.period')}</th>
                  <th scope="col">{t('console.approvals.col.approvals')}</th>
                  <th scope="col">{t('console.approvals.col.actions')}</th>
                </tr>
              </thead>
              <tbody>
                {list.requests.map((r) => (
                  <tr key={r.id} id={`inbox-${r.id}`} data-requester={r.requester ?? ''}>
                    <th scope="row">
                      {r.requester ?? `#${r.userId}`}
                      <span class="muted"> {formatDateTime(r.createdAt)}</span>
                    </th>
                    <td>{r.hostname ?? `#${r.deviceId}`}</td>
                    <td>{r.credentialUsername ?? `#${r.credentialId}`}</td>
                    <td>{r.purpose === 'session' ? t('console.approvals.purpose.session') : t('console.approvals.purpose.passwordView')}</td>
                    <td>{r.reason}</td>
                    <td>{t('console.approvals.period', { from: formatDateTime(r.startsAt), until: formatDateTime(r.endsAt) })}</td>
                    <td class="num">{t('console.approvals.count', { approvals: r.approvals, needed: r.approvalsNeeded })}</td>
                    <td class="actions">
                      <button type="button" id={`approve-${r.id}`} onClick={() => setDeciding({ request: r, decision: 'approve' })}>
                        {t('console.approvals.approve')}
                      </button>
                      <button type="button" class="secondary" id={`deny-${r.id}`} onClick={() => setDeciding({ request: r, decision: 'deny' })}>
                        {t('console.approvals.deny')}
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager offset={offset} shown={list.requests.length} total={list.total} onPage={(o) => navigate(`/console/approvals${query({ offset: o || undefined })}`)} />
        </>
      )}
    </section>
  );
}
