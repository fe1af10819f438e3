// The Credentials page's part of issue 14: each password credential's status-control verdict (does the vaulted
// password log in on its target, and when that was asked), "check now", and "rotate now" behind a confirmation
// that says what rotation does (POST /api/v1/credentials/:id/check and /rotate; the core decides and audits).
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { formatDateTime, t } from '../i18n.js';
import { toast } from '../toasts.js';
import { failureText, Modal } from './credentials-parts.js';
import type { Credential } from './credentials-types.js';

/** Status control's last verdict on a credential (`passwordStatus` in its view). */
export interface PasswordStatus {
  state: 'unchecked' | 'working' | 'failing';
  checkedAt: string | null;
  detail: string;
}

export type RotatableCredential = Credential & { passwordStatus?: PasswordStatus };

/** The verdict as a table cell: works, does not log in (and why), not checked; when it was asked. */
export function PasswordCheckCell({ status }: { status: PasswordStatus | undefined }) {
  if (!status) return <td class="password-check" />;
  return (
    <td class="password-check" data-state={status.state}>
      <span class={status.state === 'failing' ? 'badge warn' : status.state === 'working' ? 'badge ok' : 'muted'}>{t(`console.rotation.state.${status.state}`)}</span>
      {status.state === 'failing' && status.detail ? <span class="muted"> {status.detail}</span> : null}
      {status.checkedAt ? <span class="muted"> ({t('console.rotation.checkedAt', { time: formatDateTime(status.checkedAt) })})</span> : null}
    </td>
  );
}

/** "Check now" and "Rotate now" for one password credential; `onDone` reloads the list. */
export function RotationActions({ credential, onDone }: { credential: RotatableCredential; onDone: () => void }) {
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  if (credential.secretKind !== 'password' || credential.status !== 'active') return null;
  const names = { username: credential.username, hostname: credential.hostname };
  const run = async (what: 'check' | 'rotate') => {
    setBusy(true);
    try {
      if (what === 'check') {
        const r = await api<{ state: 'working' | 'failing' }>('POST', `/api/v1/credentials/${credential.id}/check`);
        toast(t(r.state === 'working' ? 'console.rotation.workingToast' : 'console.rotation.failingToast', names), r.state === 'working' ? 'ok' : 'error');
      } else {
        await api('POST', `/api/v1/credentials/${credential.id}/rotate`);
        toast(t('console.rotation.rotatedToast', names));
      }
      onDone();
    } catch (e) {
      toast(failureText(e), 'error');
      onDone();
    } finally {
      setBusy(false);
      setConfirming(false);
    }
  };
  return (
    <>
      <button type="button" class="secondary check" aria-describedby={`credential-${credential.id}`} disabled={busy} onClick={() => void run('check')}>
        {t('console.rotation.checkNow')}
      </button>
      <button type="button" class="secondary rotate" aria-describedby={`credential-${credential.id}`} disabled={busy} onClick={() => setConfirming(true)}>
        {t('console.rotation.rotate')}
      </button>
      {confirming ? (
        <Modal id="rotate-confirm" labelledBy="rotate-confirm-heading" onClose={() => setConfirming(false)}>
          <h2 id="rotate-confirm-heading">{t('console.rotation.rotateHeading', names)}</h2>
          <p>{t('console.rotation.rotateIntro')}</p>
          <div class="actions">
            <button type="button" id="rotate-confirm-submit" disabled={busy} aria-busy={busy} onClick={() => void run('rotate')}>
              {t('console.rotation.rotateConfirm')}
            </button>
            <button type="button" class="secondary" id="rotate-confirm-cancel" autoFocus onClick={() => setConfirming(false)}>
              {t('console.rotation.cancel')}
            </button>
          </div>
        </Modal>
      ) : null}
    </>
  );
}
