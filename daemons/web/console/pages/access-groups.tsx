// Access groups: the server-paged list (name filter kept in the address) with each group's member counts, and
// creating a group by name (its members, windows and rules are set on its own page, where it opens). The
// path /console/access-groups/<id> is the group's page (access-group.tsx).
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, errorText, query } from '../api.js';
import { formatNumber, t } from '../i18n.js';
import { followLink, navigate, useLocation } from '../router.js';
import { toast } from '../toasts.js';
import type { GroupSummary } from './access-groups-types.js';
import { GROUPS_PATH, failed } from './access-groups-common.js';
import { AccessGroupPage } from './access-group.js';
import { PAGE_SIZE, Pager } from './paging.js';
import { ListTable } from './list.js';

function CreateGroup({ onCancel }: { onCancel: () => void }) {
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
      const r = await api<{ group: { id: number; name: string } }>('POST', '/api/v1/access-groups', { name: String(form.get('name') ?? '').trim() });
      toast(t('console.accessGroups.createdToast', { name: r.group.name }));
      navigate(`${GROUPS_PATH}/${r.group.id}`);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="panel" id="create-group" onSubmit={(ev) => void submit(ev)} aria-labelledby="create-group-heading">
      <h2 id="create-group-heading">{t('console.accessGroups.createHeading')}</h2>
      <label>
        {t('console.accessGroups.col.name')}
        <input name="name" id="new-group-name" ref={first} required maxLength={128} autoComplete="off" />
      </label>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <button type="submit" id="create-group-submit" disabled={busy}>
        {t('console.accessGroups.createSubmit')}
      </button>
      <button type="button" class="secondary" onClick={onCancel}>
        {t('console.accessGroups.cancel')}
      </button>
    </form>
  );
}

function windowsLabel(g: GroupSummary): string {
  return g.timeWindows.length === 0 ? t('console.accessGroups.anyTime') : t('console.accessGroups.windowCount', { count: formatNumber(g.timeWindows.length) });
}

function GroupList() {
  const { search } = useLocation();
  const q = search.get('q') ?? '';
  const offset = Math.max(0, Number(search.get('offset')) || 0);
  const [list, setList] = useState<{ groups: GroupSummary[]; total: number } | null>(null);
  const [creating, setCreating] = useState(false);

  useEffect(() => {
    let live = true;
    api<{ groups: GroupSummary[]; total: number }>('GET', `/api/v1/access-groups${query({ q, limit: PAGE_SIZE, offset })}`)
      .then((r) => live && setList(r))
      .catch(failed);
    return () => {
      live = false;
    };
  }, [q, offset]);

  const go = (next: { q?: string; offset?: number }) => {
    const v = { q, offset, ...next };
    navigate(`${GROUPS_PATH}${query({ q: v.q, offset: v.offset || undefined })}`);
  };

  return (
    <section>
      <div class="page-head">
        <h1 tabIndex={-1}>{t('console.accessGroups.heading')}</h1>
        {!creating ? (
          <button type="button" id="new-group" onClick={() => setCreating(true)}>
            {t('console.accessGroups.create')}
          </button>
        ) : null}
      </div>
      {creating ? <CreateGroup onCancel={() => setCreating(false)} /> : null}
      <form
        class="filters"
        role="search"
        id="group-filter"
        key={q}
        onSubmit={(ev) => {
          ev.preventDefault();
          go({ q: String(new FormData(ev.currentTarget as HTMLFormElement).get('q') ?? '').trim(), offset: 0 });
        }}
      >
        <label>
          {t('console.accessGroups.filter')}
          <input type="search" name="q" id="group-q" defaultValue={q} maxLength={253} />
        </label>
        <button type="submit" id="group-filter-submit">
          {t('console.filter.apply')}
        </button>
      </form>
      <ListTable
        id="groups"
        items={list === null ? null : list.groups}
        head={
          <>
            <th scope="col">{t('console.accessGroups.col.name')}</th>
            <th scope="col">{t('console.accessGroups.col.status')}</th>
            <th scope="col">{t('console.accessGroups.kind.users')}</th>
            <th scope="col">{t('console.accessGroups.kind.devices')}</th>
            <th scope="col">{t('console.accessGroups.kind.credentials')}</th>
            <th scope="col">{t('console.accessGroups.kind.approvers')}</th>
            <th scope="col">{t('console.accessGroups.col.windows')}</th>
            <th scope="col">{t('console.accessGroups.col.conditions')}</th>
          </>
        }
        row={(g) => (
          <tr key={g.id} data-group={g.name}>
            <th scope="row">
              <a href={`${GROUPS_PATH}/${g.id}`} onClick={(ev) => followLink(ev, `${GROUPS_PATH}/${g.id}`)}>
                {g.name}
              </a>
            </th>
            <td>{g.enabled ? t('console.accessGroups.enabled') : t('console.accessGroups.disabled')}</td>
            <td class="num">{formatNumber(g.counts.users)}</td>
            <td class="num">{formatNumber(g.counts.devices)}</td>
            <td class="num">{formatNumber(g.counts.credentials)}</td>
            <td class="num">{formatNumber(g.counts.approvers)}</td>
            <td>{windowsLabel(g)}</td>
            <td>
              {g.reasonRequired ? <span class="badge">{t('console.accessGroups.reasonRequired')}</span> : null}
              {g.approvalRequired ? <span class="badge">{t('console.accessGroups.approvalRequired')}</span> : null}
            </td>
          </tr>
        )}
      />
      {list ? <Pager offset={offset} shown={list.groups.length} total={list.total} onPage={(o) => go({ offset: o })} /> : null}
    </section>
  );
}

/** The list at /console/access-groups, a group's page at /console/access-groups/<id>. */
export function AccessGroupsPage() {
  const { path } = useLocation();
  const rest = path.slice(GROUPS_PATH.length + 1);
  if (path === GROUPS_PATH) return <GroupList />;
  if (/^[1-9][0-9]{0,9}$/.test(rest)) return <AccessGroupPage key={rest} id={Number(rest)} />;
  return (
    <section>
      <h1 tabIndex={-1}>{t('console.notFound')}</h1>
    </section>
  );
}
