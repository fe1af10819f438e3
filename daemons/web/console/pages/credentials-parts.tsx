// Pieces the Credentials and Protected files views share: a modal dialog (the browser's own <dialog>, which
// keeps the focus inside and closes on Escape), a reason prompt, a search-and-choose picker for a device or an
// access group, and the tabs between the two views.
import type { ComponentChildren } from 'preact';
import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, errorText, query } from '../api.js';
import { t, type MessageKey } from '../i18n.js';
import { followLink } from '../router.js';
import type { Choice } from './credentials-types.js';

export function failureText(e: unknown): string {
  return errorText(e);
}

export async function searchDevices(text: string): Promise<Choice[]> {
  const r = await api<{ devices: { id: number; hostname: string; address: string }[] }>('GET', `/api/v1/devices${query({ q: text, limit: 10 })}`);
  return r.devices.map((d) => ({ id: d.id, name: `${d.hostname} (${d.address})` }));
}

export function Modal({ id, labelledBy, onClose, children }: { id: string; labelledBy: string; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useLayoutEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  return (
    <dialog
      id={id}
      ref={ref}
      class="modal"
      aria-labelledby={labelledBy}
      onCancel={(ev) => {
        ev.preventDefault();
        onClose();
      }}
    >
      {children}
    </dialog>
  );
}

/**
 * A dialog that asks why (required, at least 3 characters, as the server wants) before an act that the audit
 * trail records with that reason.
 */
export function ReasonDialog({
  id,
  heading,
  intro,
  submit,
  onSubmit,
  onClose,
}: {
  id: string;
  heading: string;
  intro?: ComponentChildren;
  submit: string;
  onSubmit: (reason: string) => Promise<string | null>;
  onClose: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const send = async (ev: Event) => {
    ev.preventDefault();
    const reason = String(new FormData(ev.currentTarget as HTMLFormElement).get('reason') ?? '').trim();
    setBusy(true);
    setError('');
    const problem = await onSubmit(reason);
    setBusy(false);
    if (problem) setError(problem);
  };
  return (
    <Modal id={id} labelledBy={`${id}-heading`} onClose={onClose}>
      <form onSubmit={(ev) => void send(ev)}>
        <h2 id={`${id}-heading`}>{heading}</h2>
        {intro}
        <label>
          {t('console.credentials.reason.label')}
          <textarea name="reason" id={`${id}-reason`} required minLength={3} maxLength={1024} rows={3} autoFocus />
        </label>
        <p class="note">{t('console.credentials.reason.note')}</p>
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" id={`${id}-submit`} disabled={busy}>
          {submit}
        </button>
        <button type="button" class="secondary" id={`${id}-cancel`} onClick={onClose}>
          {t('console.credentials.cancel')}
        </button>
      </form>
    </Modal>
  );
}

/** Search the server for a device or a group by name, then choose one of at most ten matches. */
export function Picker({ id, name, legendKey, chooseKey, search }: { id: string; name: string; legendKey: MessageKey; chooseKey: MessageKey; search: (text: string) => Promise<Choice[]> }) {
  const [choices, setChoices] = useState<Choice[] | null>(null);
  const [error, setError] = useState('');
  const text = useRef<HTMLInputElement>(null);
  const find = async () => {
    setError('');
    try {
      const found = await search(text.current?.value.trim() ?? '');
      setChoices(found);
      if (found.length === 0) setError(t('console.credentials.picker.none'));
    } catch (e) {
      setError(failureText(e));
    }
  };
  return (
    <fieldset class="picker">
      <legend>{t(legendKey)}</legend>
      <div class="picker-row">
        <label>
          {t('console.credentials.picker.search')}
          <input
            type="search"
            id={`${id}-q`}
            ref={text}
            maxLength={253}
            autoComplete="off"
            onKeyDown={(ev) => {
              // Enter searches instead of submitting the whole form.
              if (ev.key === 'Enter') {
                ev.preventDefault();
                void find();
              }
            }}
          />
        </label>
        <button type="button" class="secondary" id={`${id}-find`} onClick={() => void find()}>
          {t('console.credentials.picker.find')}
        </button>
        <label>
          {t(chooseKey)}
          <select id={id} name={name} required>
            <option value="">{t('console.credentials.picker.nothingChosen')}</option>
            {(choices ?? []).map((c) => (
              <option key={c.id} value={String(c.id)}>
                {c.name}
              </option>
            ))}
          </select>
        </label>
      </div>
      {error ? <p class="note">{error}</p> : null}
    </fieldset>
  );
}

export function Tabs({ current }: { current: 'credentials' | 'files' | null }) {
  const tabs = [
    { key: 'credentials', href: '/console/credentials', label: t('console.credentials.tabs.credentials') },
    { key: 'files', href: '/console/credentials/files', label: t('console.credentials.tabs.files') },
  ] as const;
  if (current === null) return null;
  return (
    <nav class="tabs" aria-label={t('console.credentials.tabs.label')}>
      {tabs.map((tab) => (
        <a key={tab.key} id={`tab-${tab.key}`} href={tab.href} aria-current={current === tab.key ? 'page' : undefined} onClick={(ev) => followLink(ev, tab.href)}>
          {tab.label}
        </a>
      ))}
    </nav>
  );
}
