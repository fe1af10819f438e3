// One device's page: its details (edited in place by those who may manage devices, disable/enable), its
// credentials (the credentials API filtered by device; never a secret), its pinned host keys with "reset"
// (a two-step button: forgetting a key lets the next connection pin any key), and its connectivity: the last
// result of each port and "check now".
import { useEffect, useState } from 'preact/hooks';
import { api, failed, query } from '../api.js';
import { formatDateTime, formatNumber, hasMessage, t } from '../i18n.js';
import { followLink } from '../router.js';
import { toast } from '../toasts.js';
import type { Me } from '../types.js';
import { DEVICE_FIELDS, type Device, type DeviceCredential, type PinnedHostKey, type PortCheck } from './devices-types.js';
import { DeviceFields, deviceErrorText, deviceInput, fieldLabel, statusLabel } from './device-fields.js';

interface Loaded {
  device: Device;
  connectivity: PortCheck[];
  credentials: DeviceCredential[];
  credentialTotal: number;
  hostKeys: PinnedHostKey[];
}

function credentialKind(kind: string): string {
  const key = `console.devices.credentials.kind.${kind}`;
  return hasMessage(key) ? t(key) : kind;
}

function Details({ device, canManage, onSaved }: { device: Device; canManage: boolean; onSaved: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  if (!canManage) {
    return (
      <dl class="facts" id="device-facts">
        {DEVICE_FIELDS.map((f) => (
          <div key={f}>
            <dt>{fieldLabel(f)}</dt>
            <dd>{device[f] || '—'}</dd>
          </div>
        ))}
        <div>
          <dt>{t('console.devices.col.status')}</dt>
          <dd>{statusLabel(device)}</dd>
        </div>
      </dl>
    );
  }
  const save = async (ev: Event) => {
    ev.preventDefault();
    const input = deviceInput(new FormData(ev.currentTarget as HTMLFormElement));
    setBusy(true);
    setError('');
    try {
      const r = await api<{ device: Device }>('PUT', `/api/v1/devices/${device.id}`, input);
      toast(t('console.devices.savedToast', { hostname: r.device.hostname }));
      onSaved();
    } catch (e) {
      setError(deviceErrorText(e, input.hostname));
    } finally {
      setBusy(false);
    }
  };
  const setStatus = async (action: 'disable' | 'enable') => {
    setBusy(true);
    try {
      await api('POST', `/api/v1/devices/${device.id}/${action}`);
      toast(t(action === 'disable' ? 'console.devices.disabledToast' : 'console.devices.enabledToast', { hostname: device.hostname }));
      onSaved();
    } catch (e) {
      failed(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form id="edit-device" onSubmit={(ev) => void save(ev)} key={device.updatedAt}>
      <DeviceFields prefix="edit" values={device} />
      <p>
        {t('console.devices.col.status')}: <span id="device-status">{statusLabel(device)}</span>
      </p>
      {error ? (
        <p class="error" role="alert" id="edit-device-error">
          {error}
        </p>
      ) : null}
      <button type="submit" id="save-device" disabled={busy}>
        {t('console.devices.save')}
      </button>
      {device.status === 'active' ? (
        <button type="button" class="secondary" id="disable-device" disabled={busy} onClick={() => void setStatus('disable')}>
          {t('console.devices.disable')}
        </button>
      ) : (
        <button type="button" class="secondary" id="enable-device" disabled={busy} onClick={() => void setStatus('enable')}>
          {t('console.devices.enable')}
        </button>
      )}
    </form>
  );
}

function Credentials({ credentials, total }: { credentials: DeviceCredential[]; total: number }) {
  if (credentials.length === 0) return <p class="empty">{t('console.devices.credentials.none')}</p>;
  return (
    <>
      <div class="table-wrap">
        <table id="device-credentials">
          <thead>
            <tr>
              <th scope="col">{t('console.devices.credentials.username')}</th>
              <th scope="col">{t('console.devices.field.domain')}</th>
              <th scope="col">{t('console.devices.credentials.kind')}</th>
              <th scope="col">{t('console.devices.credentials.secretKind')}</th>
              <th scope="col">{t('console.devices.col.status')}</th>
            </tr>
          </thead>
          <tbody>
            {credentials.map((c) => (
              <tr key={c.id} data-username={c.username}>
                <th scope="row">{c.username}</th>
                <td>{c.domain}</td>
                <td>{credentialKind(c.kind)}</td>
                <td>{c.secretKind === 'ssh-key' ? t('console.devices.credentials.secret.ssh-key') : t('console.devices.credentials.secret.password')}</td>
                <td>{c.status === 'disabled' ? t('console.devices.status.disabled') : t('console.devices.status.active')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {total > credentials.length ? <p class="note">{t('console.devices.credentials.more', { shown: formatNumber(credentials.length), total: formatNumber(total) })}</p> : null}
    </>
  );
}

function HostKeys({ device, keys, canManage, onReset }: { device: Device; keys: PinnedHostKey[]; canManage: boolean; onReset: () => void }) {
  const [confirming, setConfirming] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const reset = async (protocol: string) => {
    setBusy(true);
    try {
      await api('POST', `/api/v1/devices/${device.id}/host-keys/${protocol}/reset`);
      toast(t('console.devices.hostKeys.resetToast', { protocol: protocol.toUpperCase(), hostname: device.hostname }));
      setConfirming(null);
      onReset();
    } catch (e) {
      failed(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <p class="note">{t('console.devices.hostKeys.note')}</p>
      {keys.length === 0 ? (
        <p class="empty" id="host-keys-none">
          {t('console.devices.hostKeys.none')}
        </p>
      ) : (
        <div class="table-wrap">
          <table id="host-keys">
            <thead>
              <tr>
                <th scope="col">{t('console.devices.hostKeys.protocol')}</th>
                <th scope="col">{t('console.devices.hostKeys.fingerprint')}</th>
                <th scope="col">{t('console.devices.hostKeys.pinnedAt')}</th>
                {canManage ? <th scope="col">{t('console.users.col.actions')}</th> : null}
              </tr>
            </thead>
            <tbody>
              {keys.map((k) => (
                <tr key={k.protocol} data-protocol={k.protocol}>
                  <th scope="row" id={`host-key-${k.protocol}`}>
                    {k.protocol.toUpperCase()}
                  </th>
                  <td class="detail">
                    <code>{k.fingerprint}</code>
                  </td>
                  <td>{formatDateTime(k.pinnedAt)}</td>
                  {canManage ? (
                    <td class="actions">
                      {confirming === k.protocol ? (
                        <>
                          <span id={`reset-question-${k.protocol}`}>{t('console.devices.hostKeys.confirm', { protocol: k.protocol.toUpperCase() })}</span>{' '}
                          <button type="button" id={`confirm-reset-${k.protocol}`} aria-describedby={`reset-question-${k.protocol}`} disabled={busy} onClick={() => void reset(k.protocol)}>
                            {t('console.devices.hostKeys.confirmReset')}
                          </button>
                          <button type="button" class="secondary" onClick={() => setConfirming(null)}>
                            {t('console.devices.cancel')}
                          </button>
                        </>
                      ) : (
                        <button type="button" class="secondary" id={`reset-${k.protocol}`} aria-describedby={`host-key-${k.protocol}`} onClick={() => setConfirming(k.protocol)}>
                          {t('console.devices.hostKeys.reset')}
                        </button>
                      )}
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function Connectivity({ device, results, canManage, onChecked }: { device: Device; results: PortCheck[]; canManage: boolean; onChecked: () => void }) {
  const [busy, setBusy] = useState(false);
  const check = async () => {
    setBusy(true);
    try {
      const r = await api<{ results: PortCheck[] }>('POST', `/api/v1/devices/${device.id}/connectivity/check`);
      toast(t('console.devices.connectivity.checkedToast', { hostname: device.hostname, ok: r.results.filter((x) => x.ok).length, ports: r.results.length }));
      onChecked();
    } catch (e) {
      failed(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      {device.connectivity === '' ? <p class="note">{t('console.devices.connectivity.noPorts')}</p> : null}
      {results.length === 0 ? (
        <p class="empty" id="connectivity-none">
          {t('console.devices.connectivity.none')}
        </p>
      ) : (
        <div class="table-wrap">
          <table id="connectivity">
            <thead>
              <tr>
                <th scope="col">{t('console.devices.hostKeys.protocol')}</th>
                <th scope="col">{t('console.devices.connectivity.port')}</th>
                <th scope="col">{t('console.devices.connectivity.result')}</th>
                <th scope="col">{t('console.devices.connectivity.detail')}</th>
                <th scope="col">{t('console.devices.connectivity.checkedAt')}</th>
              </tr>
            </thead>
            <tbody>
              {results.map((r) => (
                <tr key={r.port} data-port={r.port} data-ok={String(r.ok)} class={r.ok ? undefined : 'failure'}>
                  <th scope="row">{r.protocol}</th>
                  <td class="num">{r.port}</td>
                  <td>{r.ok ? t('console.devices.connectivity.ok') : t('console.devices.connectivity.failed')}</td>
                  <td class="detail">
                    <code>{r.detail}</code>
                  </td>
                  <td>{r.checkedAt ? formatDateTime(r.checkedAt) : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {canManage && device.connectivity !== '' ? (
        <button type="button" id="check-now" disabled={busy} aria-busy={busy} onClick={() => void check()}>
          {busy ? t('console.devices.connectivity.checking') : t('console.devices.connectivity.checkNow')}
        </button>
      ) : null}
    </>
  );
}

export function DevicePage({ me, id }: { me: Me; id: number | null }) {
  const canManage = me.permissions.includes('devices.manage');
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [missing, setMissing] = useState(id === null);
  const [version, setVersion] = useState(0);
  const reload = () => setVersion((v) => v + 1);

  useEffect(() => {
    if (id === null) return;
    let live = true;
    Promise.all([
      api<{ device: Device; connectivity: PortCheck[] }>('GET', `/api/v1/devices/${id}`),
      api<{ credentials: DeviceCredential[]; total: number }>('GET', `/api/v1/credentials${query({ device: id })}`),
      api<{ hostKeys: PinnedHostKey[] }>('GET', `/api/v1/devices/${id}/host-keys`),
    ])
      .then(([d, c, k]) => {
        if (live) setLoaded({ device: d.device, connectivity: d.connectivity, credentials: c.credentials, credentialTotal: c.total, hostKeys: k.hostKeys });
      })
      .catch((e: unknown) => {
        if (!live) return;
        if ((e as { status?: number }).status === 404) setMissing(true);
        else failed(e);
      });
    return () => {
      live = false;
    };
  }, [id, version]);

  const back = (
    <p>
      <a href="/console/devices" id="back-to-devices" onClick={(ev) => followLink(ev, '/console/devices')}>
        {t('console.devices.back')}
      </a>
    </p>
  );
  if (missing) {
    return (
      <section>
        {back}
        <h1 tabIndex={-1}>{t('error.NOT_FOUND')}</h1>
      </section>
    );
  }
  if (!loaded) {
    return (
      <section>
        {back}
        <h1 tabIndex={-1}>{t('console.devices.heading')}</h1>
        <p aria-busy="true">{t('console.loading')}</p>
      </section>
    );
  }
  const { device } = loaded;
  return (
    <section>
      {back}
      <h1 tabIndex={-1} id="device-heading">
        {device.hostname}
      </h1>
      <section class="panel" aria-labelledby="details-heading">
        <h2 id="details-heading">{t('console.devices.details')}</h2>
        <Details device={device} canManage={canManage} onSaved={reload} />
      </section>
      <section class="panel" aria-labelledby="connectivity-heading">
        <h2 id="connectivity-heading">{t('console.devices.connectivity.heading')}</h2>
        <Connectivity device={device} results={loaded.connectivity} canManage={canManage} onChecked={reload} />
      </section>
      <section class="panel" aria-labelledby="credentials-heading">
        <h2 id="credentials-heading">{t('console.devices.credentials.heading')}</h2>
        <Credentials credentials={loaded.credentials} total={loaded.credentialTotal} />
      </section>
      <section class="panel" aria-labelledby="host-keys-heading">
        <h2 id="host-keys-heading">{t('console.devices.hostKeys.heading')}</h2>
        <HostKeys device={device} keys={loaded.hostKeys} canManage={canManage} onReset={reload} />
      </section>
    </section>
  );
}
