// One access group's page: its settings (name, enabled, session and password view, reason and approval, how
// many approvals, forwarding), its time windows, its members of each kind and its command rules with the
// tester. The settings and windows are saved with PATCH (members untouched); members change one at a time.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../api.js';
import { t } from '../i18n.js';
import { followLink } from '../router.js';
import { toast } from '../toasts.js';
import type { GroupSummary } from './access-groups-types.js';
import { GROUPS_PATH, errorText, failed } from './access-groups-common.js';
import { CommandRulesEditor } from './command-rules.js';
import { GroupMembers } from './group-members.js';
import { TimeWindowEditor } from './time-window-editor.js';

const FLAGS = ['enabled', 'sessionAllowed', 'passwordViewAllowed', 'reasonRequired', 'approvalRequired', 'allowPortForwarding', 'allowAgentForwarding'] as const;

function Settings({ group, onSaved }: { group: GroupSummary; onSaved: (g: GroupSummary) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const form = new FormData(ev.currentTarget as HTMLFormElement);
    const body: Record<string, unknown> = { name: String(form.get('name') ?? '').trim(), approvalsNeeded: Number(form.get('approvalsNeeded') ?? 1) };
    for (const f of FLAGS) body[f] = form.get(f) === 'on';
    setBusy(true);
    setError('');
    try {
      const r = await api<{ group: GroupSummary }>('PATCH', `/api/v1/access-groups/${group.id}`, body);
      onSaved(r.group);
      toast(t('console.accessGroups.settings.savedToast', { name: r.group.name }));
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="panel" id="group-settings" onSubmit={(ev) => void submit(ev)} aria-labelledby="settings-heading">
      <h2 id="settings-heading">{t('console.accessGroups.settings.heading')}</h2>
      <div class="grid">
        <label>
          {t('console.accessGroups.col.name')}
          <input name="name" id="group-name" required maxLength={128} defaultValue={group.name} autoComplete="off" />
        </label>
        <label>
          {t('console.accessGroups.settings.approvalsNeeded')}
          <input name="approvalsNeeded" id="group-approvals-needed" type="number" min={1} max={10} defaultValue={String(group.approvalsNeeded)} />
        </label>
      </div>
      <fieldset class="checks">
        <legend>{t('console.accessGroups.settings.conditions')}</legend>
        {FLAGS.map((f) => (
          <label key={f} class="check">
            <input type="checkbox" name={f} id={`group-${f}`} defaultChecked={group[f]} />
            {t(`console.accessGroups.settings.${f}`)}
          </label>
        ))}
      </fieldset>
      <p class="note">{t('console.accessGroups.settings.approvalNote')}</p>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <button type="submit" id="settings-save" disabled={busy}>
        {t('console.accessGroups.settings.save')}
      </button>
    </form>
  );
}

export function AccessGroupPage({ id }: { id: number }) {
  const [data, setData] = useState<{ group: GroupSummary; timeZone: string } | null>(null);
  const [version, setVersion] = useState(0);
  const [missing, setMissing] = useState(false);

  useEffect(() => {
    let live = true;
    api<{ group: GroupSummary; timeZone: string }>('GET', `/api/v1/access-groups/${id}/summary`)
      .then((r) => live && setData(r))
      .catch((e) => {
        if (e instanceof ApiError && e.status === 404) setMissing(true);
        else failed(e);
      });
    return () => {
      live = false;
    };
  }, [id, version]);

  const saved = (group: GroupSummary) => setData((d) => (d ? { ...d, group } : d));

  if (missing) {
    return (
      <section>
        <h1 tabIndex={-1}>{t('console.notFound')}</h1>
        <p>
          <a href={GROUPS_PATH} onClick={(ev) => followLink(ev, GROUPS_PATH)}>
            {t('console.accessGroups.back')}
          </a>
        </p>
      </section>
    );
  }
  if (data === null) {
    return (
      <section>
        <h1 tabIndex={-1}>{t('console.accessGroups.heading')}</h1>
        <p aria-busy="true">{t('console.loading')}</p>
      </section>
    );
  }
  const g = data.group;
  return (
    <section id="group-page" data-group-id={g.id}>
      <p class="crumbs">
        <a href={GROUPS_PATH} onClick={(ev) => followLink(ev, GROUPS_PATH)}>
          {t('console.accessGroups.back')}
        </a>
      </p>
      <h1 tabIndex={-1} id="group-heading">
        {t('console.accessGroups.groupHeading', { name: g.name })}
      </h1>
      {/* Keyed by the saved values: a save re-reads the form's defaults from the server's answer. */}
      <Settings key={JSON.stringify({ ...g, counts: undefined, timeWindows: undefined })} group={g} onSaved={saved} />
      <TimeWindowEditor group={g} timeZone={data.timeZone} onSaved={saved} />
      <div class="member-panels">
        {(['users', 'devices', 'credentials', 'approvers'] as const).map((kind) => (
          <GroupMembers key={kind} groupId={g.id} kind={kind} onChanged={() => setVersion((v) => v + 1)} />
        ))}
      </div>
      <CommandRulesEditor groupId={g.id} />
    </section>
  );
}
