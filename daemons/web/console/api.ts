// The console's one way to the server: the JSON API, with the session cookie and the CSRF token on every change.
// A 401 means the session is over (signed out elsewhere, expired, password reset): back to the login page.
import { hasMessage, t } from './i18n.js';
import { toast } from './toasts.js';

let csrf = '';

export function setCsrfToken(token: string): void {
  csrf = token;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly details: Record<string, string | number> | undefined,
    message: string,
  ) {
    super(message);
  }

  /** What a person reads: the catalogue's message for the code when there is one, else a generic one. */
  text(): string {
    const key = `error.${this.code}`;
    if (hasMessage(key)) return t(key, this.details);
    return t('console.error.generic', { reason: this.message });
  }
}

export async function api<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
  const res = await fetch(url, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  if (res.status === 401) {
    window.location.assign('/');
    throw new ApiError(401, 'SESSION_ENDED', undefined, 'session ended');
  }
  const data = res.status === 204 ? null : ((await res.json().catch(() => null)) as unknown);
  if (!res.ok) {
    const e = (data ?? {}) as { error?: string; message?: string; details?: Record<string, string | number> };
    throw new ApiError(res.status, e.error ?? 'INPUT_INVALID', e.details, e.message ?? res.statusText);
  }
  return data as T;
}

/** A query string from the values that are set (empty ones left out). */
export function query(values: Record<string, string | number | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) if (v !== undefined && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** What a person reads when a call failed: the catalogue's message for its error code, or "not reachable". */
export function errorText(e: unknown): string {
  return e instanceof ApiError ? e.text() : t('console.error.network');
}

/** A failed call told in a notice that stays until dismissed. */
export function failed(e: unknown): void {
  toast(errorText(e), 'error');
}
