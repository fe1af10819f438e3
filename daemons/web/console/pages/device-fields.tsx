// What the Devices pages share: the device form's fields (create and edit), the words for a device's state and
// reachability, and a device API error in the reader's language (a taken host name, the field at fault).
import { ApiError } from '../api.js';
import { t, type MessageKey } from '../i18n.js';
import { DEVICE_FIELDS, type Device, type DeviceField, type DeviceListItem } from './devices-types.js';

export function fieldLabel(field: DeviceField): string {
  return t(`console.devices.field.${field}` as MessageKey);
}

export function isDeviceField(name: string | undefined): name is DeviceField {
  return (DEVICE_FIELDS as readonly string[]).includes(name ?? '');
}

/** A refused device change as a person reads it: the host name taken, or which field to look at. */
export function deviceErrorText(e: unknown, hostname: string): string {
  if (!(e instanceof ApiError)) return t('console.error.network');
  if (e.code === 'CONFLICT') return t('console.devices.error.taken', { hostname });
  const field = e.details?.field;
  if (e.code === 'INPUT_INVALID' && typeof field === 'string' && isDeviceField(field)) return t('console.devices.error.field', { field: fieldLabel(field) });
  return e.text();
}

export function statusLabel(d: Device): string {
  return d.status === 'disabled' ? t('console.devices.status.disabled') : t('console.devices.status.active');
}

export function reachabilityLabel(d: DeviceListItem): string {
  const r = d.reachability;
  if (r.state === 'ok') return t('console.devices.reach.ok');
  if (r.state === 'failing') return t('console.devices.reach.failing', { ports: r.failingPorts });
  return t('console.devices.reach.unchecked');
}

/** "SSH:22, RDP:3389" for the list; an em dash when the device lists no port. */
export function protocolsText(connectivity: string): string {
  return connectivity === '' ? '—' : connectivity.split(',').join(', ');
}

/** The form's values as the API takes them (empty optional fields sent empty, so an edit can clear them). */
export function deviceInput(form: FormData): Record<DeviceField, string> {
  return Object.fromEntries(DEVICE_FIELDS.map((f) => [f, String(form.get(f) ?? '').trim()])) as Record<DeviceField, string>;
}

/** The inputs of the device form; ids are `${prefix}-${field}` for tests and labels. */
export function DeviceFields({ prefix, values, firstRef }: { prefix: string; values?: Partial<Device>; firstRef?: { current: HTMLInputElement | null } }) {
  return (
    <div class="grid">
      {DEVICE_FIELDS.map((f) => (
        <label key={f}>
          {fieldLabel(f)}
          <input
            name={f}
            id={`${prefix}-${f}`}
            ref={f === 'hostname' ? firstRef : undefined}
            defaultValue={values?.[f] ?? ''}
            required={f === 'hostname' || f === 'address'}
            maxLength={f === 'hostname' ? 253 : f === 'address' ? 45 : 255}
            autoComplete="off"
            spellcheck={false}
            aria-describedby={f === 'connectivity' ? `${prefix}-connectivity-hint` : undefined}
          />
          {f === 'connectivity' ? (
            <span class="note" id={`${prefix}-connectivity-hint`}>
              {t('console.devices.field.connectivityHint')}
            </span>
          ) : null}
        </label>
      ))}
    </div>
  );
}
