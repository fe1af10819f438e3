// One kind of a group's members (users, approvers, devices or credentials): a server-paged list with a filter
// and a Remove per row, and a picker that searches the server (users, devices or credentials API, a few at a
// time, never the whole list) and adds the one chosen. Each add and remove is one audited API call.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, query } from '../api.js';
import { formatNumber, t } from '../i18n.js';
import { toast } from '../toasts.js';
import type { GroupMember, MemberKind } from './access-groups-types.js';
import { errorText, failed } from './access-groups-common.js';
import { PAGE_SIZE, Pager } from './paging.js';

/** How many candidates the picker shows for what was typed. */
const PICK = 8;

interface Candidate {
  id: number;
  name: string;
  detail: string;
}

/** The picker's search: the list API of the kind's source, mapped to name and detail. */
async function candidates(kind: MemberKind, text: string): Promise<Candidate[]> {
  const q = query({ q: text, limit: PICK });
  if (kind === 'devices') {
    const r = await api<{ devices: { id: number; hostname: string; address: string }[] }>('GET', `/api/v1/devices${q}`);
    return r.devices.map((d) => ({ id: d.id, name: d.hostname, detail: d.address }));
  }
  if (kind === 'credentials') {
    const r = await api<{ credentials: { id: number; username: string; hostname: string }[] }>('GET', `/api/v1/credentials${q}`);
    return r.credentials.map((c) => ({ id: c.id, name: c.username, detail: c.hostname }));
  }
  const r = await api<{ users: { id: number; username: string; fullName: string }[] }>('GET', `/api/v1/users${q}`);
  return r.users.map((u) => ({ id: u.id, name: u.username, detail: u.fullName }));
}

function Picker({ kind, onAdd }: { kind: MemberKind; onAdd: (c: Candidate) => Promise<void> }) {
  const [text, setText] = useState('');
  const [found, setFound] = useState<Candidate[] | null>(null);
  const [error, setError] = useState('');
  const seq = useRef(0);

  useEffect(() => {
    if (text.trim() === '') {
      setFound(null);
      return;
    }
    // Asked after a pause in typing; an older answer arriving late is dropped.
    const mine = ++seq.current;
    const timer = setTimeout(() => {
      candidates(kind, text.trim())
        .then((r) => {
          if (mine === seq.current) {
            setFound(r);
            setError('');
          }
        })
        .catch((e) => mine === seq.current && setError(errorText(e)));
    }, 200);
    return () => clearTimeout(timer);
  }, [kind, text]);

  const inputId = `pick-${kind}`;
  return (
    <div class="picker">
      <label for={inputId}>{t(`console.accessGroups.pick.${kind}`)}</label>
      <input type="search" id={inputId} value={text} maxLength={253} autoComplete="off" onInput={(ev) => setText((ev.currentTarget as HTMLInputElement).value)} aria-describedby={`${inputId}-found`} />
      <div id={`${inputId}-found`} aria-live="polite">
        {error ? <p class="error">{error}</p> : null}
        {found === null ? null : found.length === 0 ? (
          <p class="empty">{t('console.accessGroups.pick.none')}</p>
        ) : (
          <ul class="candidates" id={`${inputId}-results`}>
            {found.map((c) => (
              <li key={c.id} data-name={c.name}>
                <span>
                  <strong>{c.name}</strong> <span class="muted">{c.detail}</span>
                </span>
                <button
                  type="button"
                  class="secondary"
                  aria-label={t('console.accessGroups.pick.addNamed', { name: c.detail ? `${c.name} (${c.detail})` : c.name })}
                  onClick={() =>
                    void onAdd(c).then(() => {
                      setText('');
                      document.getElementById(inputId)?.focus();
                    })
                  }
                >
                  {t('console.accessGroups.pick.add')}
                </button>
              </li>
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}

export function GroupMembers({ groupId, kind, onChanged }: { groupId: number; kind: MemberKind; onChanged: () => void }) {
  const [q, setQ] = useState('');
  const [offset, setOffset] = useState(0);
  const [list, setList] = useState<{ members: GroupMember[]; total: number } | null>(null);
  const [version, setVersion] = useState(0);
  const [busyId, setBusyId] = useState<number | null>(null);

  useEffect(() => {
    let live = true;
    api<{ members: GroupMember[]; total: number }>('GET', `/api/v1/access-groups/${groupId}/members/${kind}${query({ q, limit: PAGE_SIZE, offset })}`)
      .then((r) => live && setList(r))
      .catch(failed);
    return () => {
      live = false;
    };
  }, [groupId, kind, q, offset, version]);

  const change = async (method: 'PUT' | 'DELETE', member: { id: number; name: string }) => {
    setBusyId(member.id);
    try {
      await api('PUT' === method ? 'PUT' : 'DELETE', `/api/v1/access-groups/${groupId}/members/${kind}/${member.id}`);
      toast(t(method === 'PUT' ? 'console.accessGroups.addedToast' : 'console.accessGroups.removedToast', { name: member.name }));
      setVersion((v) => v + 1);
      onChanged();
    } catch (e) {
      failed(e);
    } finally {
      setBusyId(null);
    }
  };

  const headingId = `members-${kind}-heading`;
  return (
    <section class="panel" aria-labelledby={headingId} id={`members-${kind}`}>
      <h2 id={headingId}>
        {t(`console.accessGroups.kind.${kind}`)} <span class="muted">{list ? formatNumber(list.total) : ''}</span>
      </h2>
      <Picker kind={kind} onAdd={(c) => change('PUT', c)} />
      <form
        class="filters"
        role="search"
        aria-label={t('console.accessGroups.filterMembers')}
        onSubmit={(ev) => {
          ev.preventDefault();
          setQ(String(new FormData(ev.currentTarget as HTMLFormElement).get('q') ?? '').trim());
          setOffset(0);
        }}
      >
        <label>
          {t('console.accessGroups.filter')}
          <input type="search" name="q" maxLength={253} />
        </label>
        <button type="submit" class="secondary">
          {t('console.filter.apply')}
        </button>
      </form>
      {list === null ? (
        <p aria-busy="true">{t('console.loading')}</p>
      ) : list.members.length === 0 ? (
        <p class="empty">{t('console.accessGroups.noMembers')}</p>
      ) : (
        <table class="members" id={`members-${kind}-list`}>
          <tbody>
            {list.members.map((m) => (
              <tr key={m.id} data-name={m.name}>
                <th scope="row" id={`member-${kind}-${m.id}`}>
                  {m.name}
                </th>
                <td>{m.detail}</td>
                <td class="actions">
                  <button type="button" class="secondary" aria-describedby={`member-${kind}-${m.id}`} disabled={busyId === m.id} onClick={() => void change('DELETE', m)}>
                    {t('console.accessGroups.remove')}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {list && list.total > PAGE_SIZE ? <Pager offset={offset} shown={list.members.length} total={list.total} onPage={setOffset} /> : null}
    </section>
  );
}
