// A group's command rules: the ordered list (the first rule that matches a command decides), edited as a draft
// (add, remove, move up or down, the mode) and saved whole, as the API stores it; and the tester, which asks
// the server "what would this group's rules do with this command?" — the terminal proxy's own judgement, on
// the draft being edited — and says the verdict and the rule that decided.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { t } from '../i18n.js';
import { toast } from '../toasts.js';
import type { CommandAction, CommandMode, CommandRule, CommandRules, CommandTest } from './access-groups-types.js';
import { errorText, failed } from './access-groups-common.js';

const ACTIONS: CommandAction[] = ['block', 'alert', 'allow'];
const MODES: CommandMode[] = ['rules', 'allow-list'];

function actionLabel(a: CommandAction): string {
  return t(`console.accessGroups.rules.action.${a}`);
}

function verdictText(r: CommandTest): string {
  const v = r.verdict;
  if (v.rule) return t(`console.accessGroups.tester.byRule.${v.action}`, { position: v.rule.position + 1, pattern: v.rule.pattern });
  if (v.action === 'block') return t('console.accessGroups.tester.blockedUnlisted');
  return t('console.accessGroups.tester.allowedNoRule');
}

function Tester({ groupId, draft }: { groupId: number; draft: { mode: CommandMode; rules: CommandRule[] } }) {
  const [result, setResult] = useState<CommandTest | null>(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  // Which answer is shown (a new one for the same command must still read as new).
  const [runs, setRuns] = useState(0);
  const run = async (ev: Event) => {
    ev.preventDefault();
    const command = String(new FormData(ev.currentTarget as HTMLFormElement).get('command') ?? '');
    setBusy(true);
    setError('');
    try {
      setResult(await api<CommandTest>('POST', `/api/v1/access-groups/${groupId}/command-rules/test`, { command, mode: draft.mode, rules: draft.rules }));
      setRuns((n) => n + 1);
    } catch (e) {
      setResult(null);
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form id="rule-tester" class="tester" onSubmit={(ev) => void run(ev)} aria-labelledby="tester-heading">
      <h3 id="tester-heading">{t('console.accessGroups.tester.heading')}</h3>
      <p class="note">{t('console.accessGroups.tester.help')}</p>
      <div class="filters">
        <label>
          {t('console.accessGroups.tester.command')}
          <input name="command" id="tester-command" required maxLength={16384} autoComplete="off" spellcheck={false} class="mono" />
        </label>
        <button type="submit" id="tester-submit" disabled={busy}>
          {t('console.accessGroups.tester.run')}
        </button>
      </div>
      <div aria-live="polite" id="tester-result">
        {error ? <p class="error">{error}</p> : null}
        {result ? (
          <p class={`verdict-line ${result.verdict.action}`} data-run={runs} data-action={result.verdict.action} data-position={result.verdict.rule ? result.verdict.rule.position + 1 : ''}>
            <strong>{actionLabel(result.verdict.action)}</strong> {verdictText(result)}
            {result.verdict.part ? <span class="muted"> {t('console.accessGroups.tester.part', { part: result.verdict.part })}</span> : null}
          </p>
        ) : null}
      </div>
    </form>
  );
}

export function CommandRulesEditor({ groupId }: { groupId: number }) {
  const [saved, setSaved] = useState<CommandRules | null>(null);
  const [mode, setMode] = useState<CommandMode>('rules');
  const [rules, setRules] = useState<CommandRule[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');

  useEffect(() => {
    api<{ commandRules: CommandRules }>('GET', `/api/v1/access-groups/${groupId}/command-rules`)
      .then((r) => {
        setSaved(r.commandRules);
        setMode(r.commandRules.mode);
        setRules(r.commandRules.rules);
      })
      .catch(failed);
  }, [groupId]);

  const move = (i: number, by: -1 | 1) => {
    const j = i + by;
    if (j < 0 || j >= rules.length) return;
    const next = [...rules];
    [next[i], next[j]] = [next[j]!, next[i]!];
    setRules(next);
    // The moved rule's same button keeps the focus, so a rule is moved several places by pressing again.
    requestAnimationFrame(() => document.getElementById(`rule-${j}-${by < 0 ? 'up' : 'down'}`)?.focus());
  };

  const add = (ev: Event) => {
    ev.preventDefault();
    const form = ev.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const pattern = String(data.get('pattern') ?? '');
    if (pattern.trim() === '') return;
    setRules([...rules, { pattern, action: String(data.get('action') ?? 'block') as CommandAction }]);
    form.reset();
    document.getElementById('rule-pattern')?.focus();
  };

  const save = async () => {
    setBusy(true);
    setError('');
    try {
      const r = await api<{ commandRules: CommandRules }>('PUT', `/api/v1/access-groups/${groupId}/command-rules`, { mode, rules });
      setSaved(r.commandRules);
      setRules(r.commandRules.rules);
      toast(t('console.accessGroups.rules.savedToast'));
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const dirty = saved !== null && (saved.mode !== mode || JSON.stringify(saved.rules) !== JSON.stringify(rules));
  return (
    <section class="panel wide" aria-labelledby="rules-heading" id="command-rules">
      <h2 id="rules-heading">{t('console.accessGroups.rules.heading')}</h2>
      <p class="note">{t('console.accessGroups.rules.help')}</p>
      <label>
        {t('console.accessGroups.rules.mode')}
        <select id="rules-mode" value={mode} onChange={(ev) => setMode((ev.currentTarget as HTMLSelectElement).value as CommandMode)}>
          {MODES.map((m) => (
            <option key={m} value={m}>
              {t(`console.accessGroups.rules.mode.${m}`)}
            </option>
          ))}
        </select>
      </label>
      {saved === null ? (
        <p aria-busy="true">{t('console.loading')}</p>
      ) : rules.length === 0 ? (
        <p class="empty">{t('console.accessGroups.rules.none')}</p>
      ) : (
        <table id="rules-list">
          <thead>
            <tr>
              <th scope="col">{t('console.accessGroups.rules.position')}</th>
              <th scope="col">{t('console.accessGroups.rules.pattern')}</th>
              <th scope="col">{t('console.accessGroups.rules.action')}</th>
              <th scope="col">{t('console.accessGroups.col.actions')}</th>
            </tr>
          </thead>
          <tbody>
            {rules.map((r, i) => (
              <tr key={`${i}-${r.pattern}`} data-pattern={r.pattern}>
                <td class="num">{i + 1}</td>
                <th scope="row" id={`rule-${i}`}>
                  <code>{r.pattern}</code>
                </th>
                <td>{actionLabel(r.action)}</td>
                <td class="actions">
                  <button type="button" class="secondary" id={`rule-${i}-up`} aria-describedby={`rule-${i}`} disabled={i === 0} onClick={() => move(i, -1)}>
                    {t('console.accessGroups.rules.up')}
                  </button>
                  <button type="button" class="secondary" id={`rule-${i}-down`} aria-describedby={`rule-${i}`} disabled={i === rules.length - 1} onClick={() => move(i, 1)}>
                    {t('console.accessGroups.rules.down')}
                  </button>
                  <button type="button" class="secondary" id={`rule-${i}-remove`} aria-describedby={`rule-${i}`} onClick={() => setRules(rules.filter((_, k) => k !== i))}>
                    {t('console.accessGroups.remove')}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form class="filters" id="rule-add" onSubmit={add} aria-label={t('console.accessGroups.rules.addHeading')}>
        <label>
          {t('console.accessGroups.rules.pattern')}
          <input name="pattern" id="rule-pattern" required maxLength={512} autoComplete="off" spellcheck={false} class="mono" />
        </label>
        <label>
          {t('console.accessGroups.rules.action')}
          <select name="action" id="rule-action">
            {ACTIONS.map((a) => (
              <option key={a} value={a}>
                {actionLabel(a)}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" class="secondary" id="rule-add-submit">
          {t('console.accessGroups.rules.add')}
        </button>
      </form>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <button type="button" id="rules-save" disabled={busy || !dirty} onClick={() => void save()}>
        {t('console.accessGroups.rules.save')}
      </button>
      {dirty ? <span class="note">{t('console.accessGroups.rules.unsaved')}</span> : null}
      <Tester groupId={groupId} draft={{ mode, rules }} />
    </section>
  );
}
