// Protected files (files, tokens, certificates sealed in the vault): the server-paged list of what this user
// may know of, each with what the access decision says now; upload (credential managers: the file belongs to
// a device or an access group, whose groups decide who opens it); download with a reason, which the audit
// trail keeps. The file goes from the response straight to the browser's download, never into the page.
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, query } from '../api.js';
import { formatDateTime, language, t } from '../i18n.js';
import { navigate, useLocation } from '../router.js';
import { toast } from '../toasts.js';
import type { Me } from '../types.js';
import { PAGE_SIZE, Pager } from './paging.js';
import { failureText, Picker, ReasonDialog, searchDevices, Tabs } from './credentials-parts.js';
import { PROTECTED_KINDS, type Choice, type ProtectedFile } from './credentials-types.js';
import { ListTable } from './list.js';

/** The server's limit (appliance/access MAX_PROTECTED_BYTES). */
const MAX_BYTES = 10 * 1024 * 1024;

async function searchGroups(text: string): Promise<Choice[]> {
  const r = await api<{ groups: { id: number; name: string }[] }>('GET', `/api/v1/access-groups${query({ q: text, limit: 10 })}`);
  return r.groups.map((g) => ({ id: g.id, name: g.name }));
}

/** "1,234 bytes" in the page's language (the browser's own unit names: no message needed). */
function bytes(n: number): string {
  return new Intl.NumberFormat(language(), { style: 'unit', unit: 'byte', unitDisplay: 'long' }).format(n);
}

function base64Of(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ''));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

function Upload({ canGroups, onDone, onCancel }: { canGroups: boolean; onDone: (name: string) => void; onCancel: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [ownerType, setOwnerType] = useState<'device' | 'group'>('device');
  const heading = useRef<HTMLHeadingElement>(null);
  useLayoutEffect(() => heading.current?.focus(), []);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const form = new FormData(ev.currentTarget as HTMLFormElement);
    const file = form.get('file');
    if (!(file instanceof File) || file.size === 0) return;
    if (file.size > MAX_BYTES) {
      setError(t('console.credentials.files.tooLarge'));
      return;
    }
    const name = String(form.get('name') ?? '').trim() || file.name;
    setBusy(true);
    setError('');
    try {
      const owner = Number(form.get('owner'));
      await api('POST', '/api/v1/protected', {
        name,
        kind: String(form.get('kind') ?? 'file'),
        filename: file.name,
        mediaType: file.type || 'application/octet-stream',
        contentBase64: await base64Of(file),
        ...(ownerType === 'device' ? { deviceId: owner } : { accessGroupId: owner }),
      });
      onDone(name);
    } catch (e) {
      setError(failureText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="panel" id="upload-form" aria-labelledby="upload-heading" onSubmit={(ev) => void submit(ev)} autoComplete="off">
      <h2 id="upload-heading" ref={heading} tabIndex={-1}>
        {t('console.credentials.files.uploadHeading')}
      </h2>
      <div class="grid">
        <label>
          {t('console.credentials.files.file')}
          <input type="file" name="file" id="file-input" required />
        </label>
        <label>
          {t('console.credentials.files.col.name')}
          <input name="name" id="file-name" maxLength={255} aria-describedby="file-name-note" />
        </label>
        <label>
          {t('console.credentials.files.col.kind')}
          <select name="kind" id="file-kind">
            {PROTECTED_KINDS.map((k) => (
              <option key={k} value={k}>
                {t(`console.credentials.files.kind.${k}`)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('console.credentials.files.ownerType')}
          <select id="file-owner-type" value={ownerType} onChange={(ev) => setOwnerType((ev.currentTarget as HTMLSelectElement).value as 'device' | 'group')}>
            <option value="device">{t('console.credentials.files.ownerType.device')}</option>
            {canGroups ? <option value="group">{t('console.credentials.files.ownerType.group')}</option> : null}
          </select>
        </label>
      </div>
      <p class="note" id="file-name-note">
        {t('console.credentials.files.nameNote')}
      </p>
      {ownerType === 'device' ? (
        <Picker key="device" id="file-device" name="owner" legendKey="console.credentials.col.device" chooseKey="console.credentials.picker.chooseDevice" search={searchDevices} />
      ) : (
        <Picker key="group" id="file-group" name="owner" legendKey="console.credentials.files.group" chooseKey="console.credentials.picker.chooseGroup" search={searchGroups} />
      )}
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <button type="submit" id="file-submit" disabled={busy}>
        {t('console.credentials.files.uploadSubmit')}
      </button>
      <button type="button" class="secondary" onClick={onCancel}>
        {t('console.credentials.cancel')}
      </button>
    </form>
  );
}

/** The download's file name from content-disposition (the server made it safe), else the listed one. */
function filenameOf(res: Response, fallback: string): string {
  const m = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '');
  return m?.[1] ?? fallback;
}

export function ProtectedFiles({ me }: { me: Me }) {
  const { search } = useLocation();
  const q = search.get('q') ?? '';
  const offset = Math.max(0, Number(search.get('offset')) || 0);
  const canManage = me.permissions.includes('credentials.manage');
  const [list, setList] = useState<{ files: ProtectedFile[]; total: number } | null>(null);
  const [version, setVersion] = useState(0);
  const [uploading, setUploading] = useState(false);
  const [downloading, setDownloading] = useState<ProtectedFile | null>(null);

  useEffect(() => {
    let live = true;
    api<{ files: ProtectedFile[]; total: number }>('GET', `/api/v1/protected${query({ q, limit: PAGE_SIZE, offset })}`)
      .then((r) => live && setList(r))
      .catch((e) => toast(failureText(e), 'error'));
    return () => {
      live = false;
    };
  }, [q, offset, version]);

  const go = (next: { q?: string; offset?: number }) => {
    const v = { q, offset, ...next };
    navigate(`/console/credentials/files${query({ q: v.q, offset: v.offset || undefined })}`);
  };

  const download = async (file: ProtectedFile, reason: string): Promise<string | null> => {
    try {
      const res = await fetch(`/api/v1/protected/${file.id}/download`, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrfToken },
        body: JSON.stringify({ reason }),
      });
      if (!res.ok) {
        const e = ((await res.json().catch(() => null)) ?? {}) as { error?: string; message?: string; details?: Record<string, string | number> };
        return new ApiError(res.status, e.error ?? 'INPUT_INVALID', e.details, e.message ?? res.statusText).text();
      }
      const url = URL.createObjectURL(await res.blob());
      const a = document.createElement('a');
      a.href = url;
      a.download = filenameOf(res, file.filename);
      document.body.append(a);
      a.click();
      a.remove();
      // The browser has the file once the click is handled; the blob need not outlive it by much.
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setDownloading(null);
      toast(t('console.credentials.files.downloadedToast', { name: file.name }));
      return null;
    } catch (e) {
      return failureText(e);
    }
  };

  return (
    <section>
      <div class="page-head">
        <h1 tabIndex={-1}>{t('console.credentials.files.heading')}</h1>
        {canManage && !uploading ? (
          <button type="button" id="upload-file" onClick={() => setUploading(true)}>
            {t('console.credentials.files.upload')}
          </button>
        ) : null}
      </div>
      <Tabs current="files" />
      {uploading ? (
        <Upload
          canGroups={me.permissions.includes('access.manage')}
          onCancel={() => setUploading(false)}
          onDone={(name) => {
            setUploading(false);
            toast(t('console.credentials.files.uploadedToast', { name }));
            setVersion((v) => v + 1);
          }}
        />
      ) : null}
      {downloading ? (
        <ReasonDialog
          id="download"
          heading={t('console.credentials.files.reasonHeading', { name: downloading.name })}
          submit={t('console.credentials.files.download')}
          onClose={() => setDownloading(null)}
          onSubmit={(reason) => download(downloading, reason)}
        />
      ) : null}
      <form
        class="filters"
        role="search"
        id="file-filter"
        key={q}
        onSubmit={(ev) => {
          ev.preventDefault();
          go({ q: String(new FormData(ev.currentTarget as HTMLFormElement).get('q') ?? '').trim(), offset: 0 });
        }}
      >
        <label>
          {t('console.credentials.files.filter')}
          <input type="search" name="q" id="file-q" defaultValue={q} maxLength={253} />
        </label>
        <button type="submit" id="file-filter-submit">
          {t('console.filter.apply')}
        </button>
      </form>
      <ListTable
        id="files"
        items={list === null ? null : list.files}
        head={
          <>
            <th scope="col">{t('console.credentials.files.col.name')}</th>
            <th scope="col">{t('console.credentials.files.col.kind')}</th>
            <th scope="col">{t('console.credentials.files.col.filename')}</th>
            <th scope="col">{t('console.credentials.files.col.size')}</th>
            <th scope="col">{t('console.credentials.files.col.owner')}</th>
            <th scope="col">{t('console.credentials.files.col.created')}</th>
            <th scope="col">{t('console.credentials.files.col.access')}</th>
            <th scope="col">{t('console.credentials.col.actions')}</th>
          </>
        }
        row={(f) => (
          <tr key={f.id} data-file={f.name}>
            <th scope="row" id={`file-${f.id}`}>
              {f.name}
            </th>
            <td>{t(`console.credentials.files.kind.${f.kind}`)}</td>
            <td>{f.filename}</td>
            <td class="num">{bytes(f.size)}</td>
            <td>{f.ownerName ?? t('console.credentials.files.noOwner')}</td>
            <td>{formatDateTime(f.createdAt)}</td>
            <td class="access">{t(`console.credentials.files.access.${f.access}`)}</td>
            <td class="actions">
              {f.access === 'allowed' ? (
                <button type="button" class="secondary" aria-describedby={`file-${f.id}`} onClick={() => setDownloading(f)}>
                  {t('console.credentials.files.download')}
                </button>
              ) : null}
            </td>
          </tr>
        )}
      />
      {list ? <Pager offset={offset} shown={list.files.length} total={list.total} onPage={(o) => go({ offset: o })} /> : null}
    </section>
  );
}
