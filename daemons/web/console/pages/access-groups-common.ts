// What the access-group pages share: where they live and how a failed call is told.
import { ApiError } from '../api.js';
import { t } from '../i18n.js';
import { toast } from '../toasts.js';

export const GROUPS_PATH = '/console/access-groups';

export function failed(e: unknown): void {
  toast(e instanceof ApiError ? e.text() : t('console.error.network'), 'error');
}

/** A failed call's words for an inline message. */
export function errorText(e: unknown): string {
  return e instanceof ApiError ? e.text() : t('console.error.network');
}
