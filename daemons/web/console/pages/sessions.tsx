// Sessions: who is connected now (and ending a session, for administrators), the history of recordings with
// filters, and the search over what sessions ran and printed; a recording opens in the player
// (/console/sessions/<recording id>, see playback.tsx). Each view is shown only to a profile the API lets use it.
import { useEffect, useState } from 'preact/hooks';
import { api, failed, query } from '../api.js';
import { formatDateTime, language, t } from '../i18n.js';
import { followLink, navigate, useLocation } from '../router.js';
import { toast } from '../toasts.js';
import type { Me } from '../types.js';
import { PAGE_SIZE, Pager } from './paging.js';
import { PlaybackPage } from './playback.js';
import type { LiveSession, Recording, SearchHit } from './sessions-types.js';
import { formatPosition } from './sessions-format.js';
import './sessions.css';
import { ListTable } from './list.js';

const BASE = '/console/sessions';
const RECORDING_PATH = /^\/console\/sessions\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

type Tab = 'live' | 'history' | 'search';

function tabsFor(permissions: readonly string[]): Tab[] {
  const tabs: Tab[] = [];
  // The live list answers audit.read or access.manage; recordings and their search, recordings.view.
  if (permissions.includes('audit.read') || permissions.includes('access.manage')) tabs.push('live');
  if (permissions.includes('recordings.view')) tabs.push('history', 'search');
  return tabs;
}

/** A count of bytes in the page's language with its unit (B, kB, MB, GB). */
export function formatBytes(n: number): string {
  const units = ['byte', 'kilobyte', 'megabyte', 'gigabyte'] as const;
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return new Intl.NumberFormat(language(), { style: 'unit', unit: units[i], unitDisplay: 'short', maximumFractionDigits: i === 0 ? 0 : 1 }).format(v);
}

function EndForm({ session, onDone }: { session: LiveSession; onDone: (ended: boolean) => void }) {
  const [busy, setBusy] = useState(false);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const reason = String(new FormData(ev.currentTarget as HTMLFormElement).get('reason') ?? '').trim();
    setBusy(true);
    try {
      await api('POST', `/api/v1/sessions/${session.id}/end`, reason ? { reason } : {});
      toast(t('console.sessions.end.requested', { user: session.user }));
      onDone(true);
    } catch (e) {
      failed(e);
      setBusy(false);
    }
  };
  return (
    <form class="panel end-session" id="end-session" onSubmit={(ev) => void submit(ev)} aria-labelledby="end-heading">
      <h2 id="end-heading">{t('console.sessions.end.title', { user: session.user, device: session.device })}</h2>
      <label>
        {t('console.sessions.end.reason')}
        <input name="reason" id="end-reason" maxLength={256} defaultValue={t('console.sessions.end.reasonDefault')} required autoFocus />
      </label>
      <button type="submit" id="end-confirm" disabled={busy}>
        {t('console.sessions.end.confirm')}
      </button>
      <button type="button" class="secondary" onClick={() => onDone(false)}>
        {t('console.sessions.end.cancel')}
      </button>
    </form>
  );
}

function LiveView({ canEnd }: { canEnd: boolean }) {
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<{ sessions: LiveSession[]; total: number } | null>(null);
  const [ending, setEnding] = useState<LiveSession | null>(null);
  const [round, setRound] = useState(0);

  useEffect(() => {
    let live = true;
    api<{ sessions: LiveSession[]; total: number }>('GET', `/api/v1/sessions/live${query({ limit: PAGE_SIZE, offset })}`)
      .then((r) => live && setPage(r))
      .catch(failed);
    return () => {
      live = false;
    };
  }, [offset, round]);

  const refresh = () => setRound((n) => n + 1);
  const done = (ended: boolean) => {
    setEnding(null);
    // The end is asked for, not done: the process holding the session disconnects it within a second or so.
    if (ended) setTimeout(refresh, 1000);
  };

  return (
    <div>
      <div class="page-tools">
        <button type="button" class="secondary" id="live-refresh" onClick={refresh}>
          {t('console.sessions.refresh')}
        </button>
      </div>
      {ending ? <EndForm session={ending} onDone={done} /> : null}
      {page === null ? (
        <p aria-busy="true">{t('console.loading')}</p>
      ) : page.sessions.length === 0 ? (
        <p class="empty" id="live-none">
          {t('console.sessions.live.none')}
        </p>
      ) : (
        <div class="table-wrap">
          <table id="live-sessions">
            <thead>
              <tr>
                <th scope="col">{t('console.sessions.col.user')}</th>
                <th scope="col">{t('console.sessions.col.device')}</th>
                <th scope="col">{t('console.sessions.col.account')}</th>
                <th scope="col">{t('console.sessions.col.protocol')}</th>
                <th scope="col">{t('console.sessions.col.source')}</th>
                <th scope="col">{t('console.sessions.col.started')}</th>
                <th scope="col">{t('console.sessions.col.bytes')}</th>
                {canEnd ? <th scope="col">{t('console.sessions.col.actions')}</th> : null}
              </tr>
            </thead>
            <tbody>
              {page.sessions.map((s) => (
                <tr key={s.id} data-session={s.id}>
                  <th scope="row">{s.user}</th>
                  <td>{s.device}</td>
                  <td>{s.credential}</td>
                  <td>{s.protocol.toUpperCase()}</td>
                  <td>{s.source}</td>
                  <td>{formatDateTime(s.startedAt)}</td>
                  <td class="num">
                    {formatBytes(s.bytesIn)} / {formatBytes(s.bytesOut)}
                  </td>
                  {canEnd ? (
                    <td class="actions">
                      <button type="button" class="secondary end" onClick={() => setEnding(s)}>
                        {t('console.sessions.end')}
                      </button>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {page && page.total > 0 ? <Pager offset={offset} shown={page.sessions.length} total={page.total} onPage={setOffset} /> : null}
    </div>
  );
}

const HISTORY_FILTERS = ['user', 'device', 'since', 'until'] as const;

/** A datetime-local value (the browser's local time) as ISO 8601 for the API; '' stays ''. */
function isoOf(local: string): string {
  if (!local) return '';
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

function HistoryView({ search }: { search: URLSearchParams }) {
  const filters = Object.fromEntries(HISTORY_FILTERS.map((k) => [k, search.get(k) ?? ''])) as Record<(typeof HISTORY_FILTERS)[number], string>;
  const before = search.get('before') ?? '';
  const key = HISTORY_FILTERS.map((k) => filters[k]).join('|');
  const [page, setPage] = useState<{ recordings: Recording[]; nextBefore: string | null } | null>(null);

  useEffect(() => {
    let live = true;
    setPage(null);
    const q = query({ user: filters.user, device: filters.device, since: isoOf(filters.since), until: isoOf(filters.until), before, limit: PAGE_SIZE });
    api<{ recordings: Recording[]; nextBefore: string | null }>('GET', `/api/v1/recordings${q}`)
      .then((r) => live && setPage(r))
      .catch(failed);
    return () => {
      live = false;
    };
  }, [key, before]);

  const apply = (ev: Event) => {
    ev.preventDefault();
    const form = new FormData(ev.currentTarget as HTMLFormElement);
    navigate(`${BASE}${query({ tab: 'history', ...Object.fromEntries(HISTORY_FILTERS.map((k) => [k, String(form.get(k) ?? '').trim()])) })}`);
  };

  return (
    <div>
      <form class="filters" role="search" id="history-filter" onSubmit={apply} key={key}>
        <label>
          {t('console.sessions.filter.user')}
          <input name="user" id="history-user" defaultValue={filters.user} maxLength={64} />
        </label>
        <label>
          {t('console.sessions.filter.device')}
          <input name="device" id="history-device" defaultValue={filters.device} maxLength={253} />
        </label>
        <label>
          {t('console.sessions.filter.since')}
          <input name="since" id="history-since" type="datetime-local" step={1} defaultValue={filters.since} />
        </label>
        <label>
          {t('console.sessions.filter.until')}
          <input name="until" id="history-until" type="datetime-local" step={1} defaultValue={filters.until} />
        </label>
        <button type="submit" id="history-filter-submit">
          {t('console.filter.apply')}
        </button>
      </form>
      <ListTable
        id="recordings"
        items={page === null ? null : page.recordings}
        head={
          <>
            <th scope="col">{t('console.sessions.col.started')}</th>
            <th scope="col">{t('console.sessions.col.user')}</th>
            <th scope="col">{t('console.sessions.col.device')}</th>
            <th scope="col">{t('console.sessions.col.account')}</th>
            <th scope="col">{t('console.sessions.col.protocol')}</th>
            <th scope="col">{t('console.sessions.col.ended')}</th>
            <th scope="col">{t('console.sessions.col.status')}</th>
            <th scope="col">{t('console.sessions.col.actions')}</th>
          </>
        }
        row={(r) => (
          <tr key={r.id} data-recording={r.id} data-session={r.sessionId} class={r.status === 'failed' ? 'failure' : undefined}>
            <td>{formatDateTime(r.startedAt)}</td>
            <td>{r.user}</td>
            <td>{r.device}</td>
            <td>{r.credential}</td>
            <td>{r.protocol.toUpperCase()}</td>
            <td>{r.endedAt ? formatDateTime(r.endedAt) : ''}</td>
            <td>{t(`console.sessions.status.${r.status}`)}</td>
            <td class="actions">
              <a class="button secondary play" href={`${BASE}/${r.id}`} onClick={(ev) => followLink(ev, `${BASE}/${r.id}`)}>
                {t('console.sessions.play')}
              </a>
            </td>
          </tr>
        )}
      />
      <div class="pager">
        {before ? (
          <button type="button" class="secondary" id="history-newest" onClick={() => navigate(`${BASE}${query({ tab: 'history', ...filters })}`)}>
            {t('console.sessions.newest')}
          </button>
        ) : null}
        {page?.nextBefore ? (
          <button type="button" class="secondary" id="history-older" onClick={() => navigate(`${BASE}${query({ tab: 'history', ...filters, before: page.nextBefore ?? undefined })}`)}>
            {t('console.sessions.older')}
          </button>
        ) : null}
      </div>
    </div>
  );
}

function SearchView({ search }: { search: URLSearchParams }) {
  const command = search.get('command') ?? '';
  const text = search.get('text') ?? '';
  const before = search.get('before') ?? undefined;
  const [hits, setHits] = useState<SearchHit[] | null>(null);
  const [nextBefore, setNextBefore] = useState<number | null>(null);

  useEffect(() => {
    if (!command && !text) {
      setHits(null);
      return;
    }
    let live = true;
    setHits(null);
    api<{ results: SearchHit[]; nextBefore: number | null }>('GET', `/api/v1/sessions${query({ command, text, before, limit: PAGE_SIZE })}`)
      .then((r) => {
        if (!live) return;
        setHits(r.results);
        setNextBefore(r.nextBefore);
      })
      .catch(failed);
    return () => {
      live = false;
    };
  }, [command, text, before]);

  const submit = (ev: Event) => {
    ev.preventDefault();
    const form = new FormData(ev.currentTarget as HTMLFormElement);
    navigate(`${BASE}${query({ tab: 'search', command: String(form.get('command') ?? '').trim(), text: String(form.get('text') ?? '').trim() })}`);
  };

  return (
    <div>
      <form class="filters" role="search" id="session-search" onSubmit={submit} key={`${command}|${text}`}>
        <label>
          {t('console.sessions.search.command')}
          <input name="command" id="search-command" defaultValue={command} maxLength={256} />
        </label>
        <label>
          {t('console.sessions.search.text')}
          <input name="text" id="search-text" defaultValue={text} maxLength={256} />
        </label>
        <button type="submit" id="search-submit">
          {t('console.sessions.search.submit')}
        </button>
      </form>
      {!command && !text ? (
        <p class="note">{t('console.sessions.search.hint')}</p>
      ) : hits === null ? (
        <p aria-busy="true">{t('console.loading')}</p>
      ) : hits.length === 0 ? (
        <p class="empty">{t('console.empty')}</p>
      ) : (
        <div class="table-wrap">
          <table id="search-results">
            <thead>
              <tr>
                <th scope="col">{t('console.sessions.col.time')}</th>
                <th scope="col">{t('console.sessions.col.user')}</th>
                <th scope="col">{t('console.sessions.col.device')}</th>
                <th scope="col">{t('console.sessions.col.match')}</th>
                <th scope="col">{t('console.sessions.col.position')}</th>
                <th scope="col">{t('console.sessions.col.actions')}</th>
              </tr>
            </thead>
            <tbody>
              {hits.map((h, i) => {
                const href = h.recordingId ? `${BASE}/${h.recordingId}${query({ t: h.offsetSeconds })}` : '';
                return (
                  <tr key={`${h.sessionId}-${i}`} data-session={h.sessionId} class={h.action === 'block' ? 'failure' : undefined}>
                    <td>{formatDateTime(h.time)}</td>
                    <td>{h.user}</td>
                    <td>{h.device}</td>
                    <td>
                      {h.command !== null ? <code>{h.command}</code> : <span class="excerpt">{h.text}</span>}
                      {h.action === 'block' ? <span class="badge warn">{t('console.sessions.search.blocked')}</span> : null}
                    </td>
                    <td class="num">{formatPosition(h.offsetSeconds)}</td>
                    <td class="actions">
                      {href ? (
                        <a class="button secondary play" href={href} onClick={(ev) => followLink(ev, href)}>
                          {t('console.sessions.playFrom')}
                        </a>
                      ) : (
                        <span class="muted">{t('console.sessions.notRecorded')}</span>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {hits !== null && (before || nextBefore) ? (
        <div class="pager">
          {before ? (
            <button type="button" class="secondary" id="search-newest" onClick={() => navigate(`${BASE}${query({ tab: 'search', command, text })}`)}>
              {t('console.sessions.newest')}
            </button>
          ) : null}
          {nextBefore ? (
            <button type="button" class="secondary" id="search-older" onClick={() => navigate(`${BASE}${query({ tab: 'search', command, text, before: nextBefore })}`)}>
              {t('console.sessions.older')}
            </button>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}

export function SessionsPage({ me }: { me: Me }) {
  const { path, search } = useLocation();
  const recording = RECORDING_PATH.exec(path);
  const tabs = tabsFor(me.permissions);
  if (recording && tabs.includes('history')) return <PlaybackPage id={recording[1]!} start={Number(search.get('t') ?? 0) || 0} />;
  const asked = search.get('tab') as Tab | null;
  const tab = asked && tabs.includes(asked) ? asked : tabs[0];
  const label: Record<Tab, string> = { live: t('console.sessions.tab.live'), history: t('console.sessions.tab.history'), search: t('console.sessions.tab.search') };
  return (
    <section>
      <h1 tabIndex={-1}>{t('console.sessions.heading')}</h1>
      {/* A group of links, not a <nav>: the page keeps one navigation landmark (the console's own). */}
      <div class="tabs" role="group" aria-label={t('console.sessions.tabs')}>
        <ul>
          {tabs.map((k) => (
            <li key={k}>
              <a href={`${BASE}?tab=${k}`} id={`tab-${k}`} aria-current={k === tab ? 'page' : undefined} onClick={(ev) => followLink(ev, `${BASE}?tab=${k}`)}>
                {label[k]}
              </a>
            </li>
          ))}
        </ul>
      </div>
      {tab === 'live' ? <LiveView canEnd={me.permissions.includes('access.manage')} /> : tab === 'history' ? <HistoryView search={search} /> : tab === 'search' ? <SearchView search={search} /> : null}
    </section>
  );
}
