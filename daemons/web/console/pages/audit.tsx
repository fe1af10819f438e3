// The audit trail: filter by event type, user, subject and time; newest first, paged by sequence number
// (keyset, so a page deep in millions of rows costs what the first does); the chain's verdict on demand; the
// same filters as a CSV download.
import { useEffect, useState } from 'preact/hooks';
import { api, failed, query } from '../api.js';
import { formatDateTime, t } from '../i18n.js';
import { navigate, useLocation } from '../router.js';
import type { AuditEvent, ChainVerdict } from '../types.js';
import { PAGE_SIZE } from './paging.js';
import { ListTable } from './list.js';

const FILTERS = ['type', 'actor', 'subject', 'since', 'until'] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

/** A datetime-local value (the browser's local time) as ISO 8601 for the API; '' stays ''. */
function isoOf(local: string): string {
  if (!local) return '';
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

function apiFilters(f: Filters): Record<string, string> {
  return { type: f.type, actor: f.actor, subject: f.subject, since: isoOf(f.since), until: isoOf(f.until) };
}

function hasDetail(detail: unknown): boolean {
  return typeof detail === 'object' && detail !== null && Object.keys(detail).length > 0;
}

function outcomeLabel(o: AuditEvent['outcome']): string {
  return t(`console.audit.outcome.${o}`);
}

function Verdict() {
  const [verdict, setVerdict] = useState<ChainVerdict | null>(null);
  const [busy, setBusy] = useState(false);
  const verify = async () => {
    setBusy(true);
    try {
      setVerdict((await api<{ verdict: ChainVerdict }>('GET', '/api/v1/audit/verify')).verdict);
    } catch (e) {
      failed(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="verdict">
      <button type="button" id="verify-chain" class="secondary" disabled={busy} onClick={() => void verify()}>
        {t('console.audit.verify')}
      </button>
      <span id="chain-verdict" role="status" class={verdict === null ? '' : verdict.ok ? 'ok' : 'error'}>
        {busy
          ? t('console.loading')
          : verdict === null
            ? ''
            : verdict.ok
              ? t('console.audit.intact', { rows: verdict.rows })
              : t('console.audit.broken', { seq: verdict.brokenSeq, reason: verdict.reason })}
      </span>
    </div>
  );
}

export function AuditPage() {
  const { search } = useLocation();
  const filters = Object.fromEntries(FILTERS.map((k) => [k, search.get(k) ?? ''])) as Filters;
  const before = search.get('before') ?? '';
  const [types, setTypes] = useState<{ type: string; code: string }[]>([]);
  const [page, setPage] = useState<{ events: AuditEvent[]; nextBefore: number | null } | null>(null);
  const key = FILTERS.map((k) => filters[k]).join('|');

  useEffect(() => {
    api<{ eventTypes: { type: string; code: string }[] }>('GET', '/api/v1/audit/event-types')
      .then((r) => setTypes([...r.eventTypes].sort((a, b) => a.type.localeCompare(b.type))))
      .catch(() => setTypes([]));
  }, []);

  useEffect(() => {
    let live = true;
    setPage(null);
    api<{ events: AuditEvent[]; nextBefore: number | null }>('GET', `/api/v1/audit${query({ ...apiFilters(filters), before, limit: PAGE_SIZE })}`)
      .then((r) => live && setPage(r))
      .catch((e: unknown) => failed(e));
    return () => {
      live = false;
    };
  }, [key, before]);

  const apply = (ev: Event) => {
    ev.preventDefault();
    const form = new FormData(ev.currentTarget as HTMLFormElement);
    navigate(`/console/audit${query(Object.fromEntries(FILTERS.map((k) => [k, String(form.get(k) ?? '').trim()])))}`);
  };
  const csv = `/api/v1/audit${query({ ...apiFilters(filters), format: 'csv' })}`;

  return (
    <section>
      <div class="page-head">
        <h1 tabIndex={-1}>{t('console.audit.heading')}</h1>
        <a class="button secondary" id="audit-csv" href={csv} download>
          {t('console.audit.csv')}
        </a>
      </div>
      <Verdict />
      <form class="filters" role="search" id="audit-filter" onSubmit={apply} key={key}>
        <label>
          {t('console.audit.type')}
          <select name="type" id="audit-type" defaultValue={filters.type}>
            <option value="">{t('console.audit.anyType')}</option>
            {types.map((e) => (
              <option key={e.type} value={e.type} selected={e.type === filters.type}>
                {e.type} ({e.code})
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('console.audit.actor')}
          <input name="actor" id="audit-actor" defaultValue={filters.actor} maxLength={256} />
        </label>
        <label>
          {t('console.audit.subject')}
          <input name="subject" id="audit-subject" defaultValue={filters.subject} maxLength={128} />
        </label>
        <label>
          {t('console.audit.since')}
          <input name="since" id="audit-since" type="datetime-local" step={1} defaultValue={filters.since} />
        </label>
        <label>
          {t('console.audit.until')}
          <input name="until" id="audit-until" type="datetime-local" step={1} defaultValue={filters.until} />
        </label>
        <button type="submit" id="audit-filter-submit">
          {t('console.filter.apply')}
        </button>
      </form>

      <ListTable
        id="audit-events"
        items={page === null ? null : page.events}
        head={
          <>
            <th scope="col">{t('console.audit.col.seq')}</th>
            <th scope="col">{t('console.audit.col.at')}</th>
            <th scope="col">{t('console.audit.type')}</th>
            <th scope="col">{t('console.audit.col.outcome')}</th>
            <th scope="col">{t('console.audit.actor')}</th>
            <th scope="col">{t('console.audit.subject')}</th>
            <th scope="col">{t('console.audit.col.code')}</th>
            <th scope="col">{t('console.audit.col.detail')}</th>
          </>
        }
        row={(e) => (
          <tr key={e.seq} data-type={e.type} class={e.outcome === 'failure' ? 'failure' : undefined}>
            <td class="num">{e.seq}</td>
            <td>{formatDateTime(e.at)}</td>
            <td>
              <code>{e.type}</code>
              {e.eventCode ? <span class="muted"> {e.eventCode}</span> : null}
            </td>
            <td>{outcomeLabel(e.outcome)}</td>
            <td>{e.actor ?? ''}</td>
            <td>{e.subject ?? ''}</td>
            <td>{e.code ?? ''}</td>
            <td class="detail">{hasDetail(e.detail) ? <code>{JSON.stringify(e.detail)}</code> : null}</td>
          </tr>
        )}
      />
      <div class="pager">
        {before ? (
          <button type="button" class="secondary" id="audit-newest" onClick={() => navigate(`/console/audit${query(filters)}`)}>
            {t('console.audit.newest')}
          </button>
        ) : null}
        {page?.nextBefore ? (
          <button type="button" class="secondary" id="audit-older" onClick={() => navigate(`/console/audit${query({ ...filters, before: page.nextBefore ?? undefined })}`)}>
            {t('console.audit.older')}
          </button>
        ) : null}
      </div>
    </section>
  );
}
