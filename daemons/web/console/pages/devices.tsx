// Devices: the server-paged list with a text filter and "only unreachable" (both kept in the address, so back,
// forward and a shared link work), creating a device, and the CSV import with its per-row report. A path
// under /console/devices/<id> is a device's own page.
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, errorText, failed, query } from '../api.js';
import { formatNumber, t } from '../i18n.js';
import { followLink, navigate, useLocation } from '../router.js';
import { toast } from '../toasts.js';
import type { Me } from '../types.js';
import { PAGE_SIZE, Pager } from './paging.js';
import { DevicePage } from './device.js';
import { DeviceFields, deviceErrorText, deviceInput, isDeviceField, protocolsText, reachabilityLabel, statusLabel } from './device-fields.js';
import type { Device, DeviceListItem, ImportReport, ImportRow } from './devices-types.js';
import { ListTable } from './list.js';

/** POST /api/v1/devices/import's limit on the CSV. */
const IMPORT_MAX_BYTES = 8 * 1024 * 1024;

function CreateDevice({ onCreated, onCancel }: { onCreated: (device: Device) => void; onCancel: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const first = useRef<HTMLInputElement>(null);
  useLayoutEffect(() => first.current?.focus(), []);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const input = deviceInput(new FormData(ev.currentTarget as HTMLFormElement));
    setBusy(true);
    setError('');
    try {
      const r = await api<{ device: Device }>('POST', '/api/v1/devices', input);
      onCreated(r.device);
    } catch (e) {
      setError(deviceErrorText(e, input.hostname));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="panel" id="create-device" onSubmit={(ev) => void submit(ev)} aria-labelledby="create-device-heading">
      <h2 id="create-device-heading">{t('console.devices.createHeading')}</h2>
      <DeviceFields prefix="new" firstRef={first} />
      {error ? (
        <p class="error" role="alert" id="create-device-error">
          {error}
        </p>
      ) : null}
      <button type="submit" id="create-device-submit" disabled={busy}>
        {t('console.devices.createSubmit')}
      </button>
      <button type="button" class="secondary" onClick={onCancel}>
        {t('console.devices.cancel')}
      </button>
    </form>
  );
}

/** Why a row was refused, in the reader's language (the server's own message is English, for the logs). */
function rowReason(r: ImportRow): string {
  if (r.ok) return '';
  if (r.code === 'CONFLICT') return t('console.devices.error.taken', { hostname: r.hostname ?? '' });
  if (r.code === 'INPUT_INVALID' && r.field) {
    return isDeviceField(r.field) ? t('console.devices.import.reason.field', { column: r.field }) : t('console.devices.import.reason.unknownColumn', { column: r.field });
  }
  return t('console.devices.import.reason.other');
}

function ImportDevices({ onImported, onClose }: { onImported: () => void; onClose: () => void }) {
  const [csv, setCsv] = useState('');
  const [update, setUpdate] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [report, setReport] = useState<ImportReport | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const reportHeading = useRef<HTMLHeadingElement>(null);
  useLayoutEffect(() => heading.current?.focus(), []);
  useLayoutEffect(() => {
    if (report) reportHeading.current?.focus();
  }, [report]);

  const readFile = async (ev: Event) => {
    const file = (ev.currentTarget as HTMLInputElement).files?.[0];
    if (!file) return;
    // The server takes at most 8 MiB of CSV: say so before reading a file that would only be refused.
    if (file.size > IMPORT_MAX_BYTES) {
      setError(t('console.devices.import.tooLarge'));
      return;
    }
    setError('');
    setCsv(await file.text());
  };
  const submit = async (ev: Event) => {
    ev.preventDefault();
    if (csv.trim() === '') {
      setError(t('console.devices.import.chooseFirst'));
      return;
    }
    setBusy(true);
    setError('');
    try {
      const r = await api<ImportReport>('POST', '/api/v1/devices/import', { csv, update });
      setReport(r);
      onImported();
    } catch (e) {
      // A file the CSV parser cannot read is refused whole (400, INPUT_INVALID without a field).
      setError(e instanceof ApiError && e.code === 'INPUT_INVALID' ? t('console.devices.import.unreadable') : errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="panel" id="import-devices" aria-labelledby="import-heading">
      <h2 id="import-heading" ref={heading} tabIndex={-1}>
        {t('console.devices.import.heading')}
      </h2>
      <p class="note" id="import-note">
        {t('console.devices.import.note')}
      </p>
      <form onSubmit={(ev) => void submit(ev)}>
        <label>
          {t('console.devices.import.file')}
          <input type="file" id="import-file" accept=".csv,text/csv,text/plain" onChange={(ev) => void readFile(ev)} />
        </label>
        <label>
          {t('console.devices.import.text')}
          <textarea id="import-csv" name="csv" rows={8} spellcheck={false} aria-describedby="import-note" value={csv} onInput={(ev) => setCsv((ev.currentTarget as HTMLTextAreaElement).value)} />
        </label>
        <label class="check">
          <input type="checkbox" id="import-update" checked={update} onChange={(ev) => setUpdate((ev.currentTarget as HTMLInputElement).checked)} />
          {t('console.devices.import.update')}
        </label>
        {error ? (
          <p class="error" role="alert" id="import-error">
            {error}
          </p>
        ) : null}
        <button type="submit" id="import-submit" disabled={busy}>
          {t('console.devices.import.submit')}
        </button>
        <button type="button" class="secondary" onClick={onClose}>
          {t('console.devices.cancel')}
        </button>
      </form>
      {report ? (
        <div id="import-result">
          <h3 id="import-report-heading" ref={reportHeading} tabIndex={-1}>
            {t('console.devices.import.reportHeading')}
          </h3>
          <p id="import-summary">{t('console.devices.import.summary', { created: formatNumber(report.rows.filter((r) => r.ok && r.action !== 'updated').length), updated: formatNumber(report.rows.filter((r) => r.action === 'updated').length), rejected: formatNumber(report.failed) })}</p>
          <div class="table-wrap">
            <table id="import-report">
              <thead>
                <tr>
                  <th scope="col">{t('console.devices.import.col.row')}</th>
                  <th scope="col">{t('console.devices.field.hostname')}</th>
                  <th scope="col">{t('console.devices.import.col.result')}</th>
                  <th scope="col">{t('console.devices.import.col.reason')}</th>
                </tr>
              </thead>
              <tbody>
                {report.rows.map((r) => (
                  <tr key={r.row} data-row={r.row} data-ok={String(r.ok)} class={r.ok ? undefined : 'failure'}>
                    <td class="num">{formatNumber(r.row)}</td>
                    <td>{r.ok && r.id ? <a href={`/console/devices/${r.id}`} onClick={(ev) => followLink(ev, `/console/devices/${r.id}`)}>{r.hostname}</a> : r.hostname}</td>
                    <td>{!r.ok ? t('console.devices.import.rejected') : r.action === 'updated' ? t('console.devices.import.updated') : t('console.devices.import.created')}</td>
                    <td class="reason">{rowReason(r)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      ) : null}
    </section>
  );
}

function DeviceList({ me }: { me: Me }) {
  const { search } = useLocation();
  const q = search.get('q') ?? '';
  const unreachable = search.get('unreachable') === 'true';
  const offset = Math.max(0, Number(search.get('offset')) || 0);
  const canManage = me.permissions.includes('devices.manage');

  const [list, setList] = useState<{ devices: DeviceListItem[]; total: number } | null>(null);
  const [version, setVersion] = useState(0);
  const [panel, setPanel] = useState<'create' | 'import' | null>(null);

  useEffect(() => {
    let live = true;
    api<{ devices: DeviceListItem[]; total: number }>('GET', `/api/v1/devices${query({ q, unreachable: unreachable ? 'true' : undefined, limit: PAGE_SIZE, offset })}`)
      .then((r) => live && setList(r))
      .catch(failed);
    return () => {
      live = false;
    };
  }, [q, unreachable, offset, version]);

  const go = (next: { q?: string; unreachable?: boolean; offset?: number }) => {
    const v = { q, unreachable, offset, ...next };
    navigate(`/console/devices${query({ q: v.q, unreachable: v.unreachable ? 'true' : undefined, offset: v.offset || undefined })}`);
  };

  const filter = (ev: Event) => {
    ev.preventDefault();
    const form = new FormData(ev.currentTarget as HTMLFormElement);
    go({ q: String(form.get('q') ?? '').trim(), unreachable: form.get('unreachable') === 'true', offset: 0 });
  };

  return (
    <section>
      <div class="page-head">
        <h1 tabIndex={-1}>{t('console.devices.heading')}</h1>
        {canManage && panel === null ? (
          <div>
            <button type="button" id="new-device" onClick={() => setPanel('create')}>
              {t('console.devices.create')}
            </button>
            <button type="button" class="secondary" id="import-open" onClick={() => setPanel('import')}>
              {t('console.devices.import')}
            </button>
          </div>
        ) : null}
      </div>

      {panel === 'create' ? (
        <CreateDevice
          onCancel={() => setPanel(null)}
          onCreated={(device) => {
            setPanel(null);
            toast(t('console.devices.createdToast', { hostname: device.hostname }));
            setVersion((v) => v + 1);
          }}
        />
      ) : null}
      {panel === 'import' ? <ImportDevices onClose={() => setPanel(null)} onImported={() => setVersion((v) => v + 1)} /> : null}

      <form class="filters" role="search" id="device-filter" onSubmit={filter} key={`${q}|${unreachable}`}>
        <label>
          {t('console.devices.filter')}
          <input type="search" name="q" id="device-q" defaultValue={q} maxLength={253} />
        </label>
        <label class="check">
          <input type="checkbox" name="unreachable" id="device-unreachable" value="true" defaultChecked={unreachable} />
          {t('console.devices.onlyUnreachable')}
        </label>
        <button type="submit" id="device-filter-submit">
          {t('console.filter.apply')}
        </button>
      </form>

      <ListTable
        id="devices"
        items={list === null ? null : list.devices}
        head={
          <>
            <th scope="col">{t('console.devices.field.hostname')}</th>
            <th scope="col">{t('console.devices.field.address')}</th>
            <th scope="col">{t('console.devices.col.protocols')}</th>
            <th scope="col">{t('console.devices.field.type')}</th>
            <th scope="col">{t('console.devices.col.reachability')}</th>
            <th scope="col">{t('console.devices.col.status')}</th>
          </>
        }
        row={(d) => (
          <tr key={d.id} data-hostname={d.hostname} data-reachability={d.reachability.state}>
            <th scope="row">
              <a href={`/console/devices/${d.id}`} onClick={(ev) => followLink(ev, `/console/devices/${d.id}`)}>
                {d.hostname}
              </a>
            </th>
            <td>{d.address}</td>
            <td>{protocolsText(d.connectivity)}</td>
            <td>{d.type}</td>
            <td class="reachability">
              {d.reachability.state === 'failing' ? <span class="badge warn">{reachabilityLabel(d)}</span> : reachabilityLabel(d)}
            </td>
            <td class="status">{statusLabel(d)}</td>
          </tr>
        )}
      />
      {list ? <Pager offset={offset} shown={list.devices.length} total={list.total} onPage={(o) => go({ offset: o })} /> : null}
    </section>
  );
}

export function DevicesPage({ me }: { me: Me }) {
  const { path } = useLocation();
  const rest = path.slice('/console/devices'.length);
  if (rest === '' || rest === '/') return <DeviceList me={me} />;
  const id = /^\/([1-9][0-9]{0,9})$/.exec(rest)?.[1];
  return <DevicePage me={me} id={id ? Number(id) : null} key={rest} />;
}
