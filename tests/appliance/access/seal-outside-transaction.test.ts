// Sealing waits for the token; it happens before the database transaction that stores the sealed value,
// so no write lock (SQLite has one writer) is held while the token works. A new row's value is sealed for
// the id the row is expected to get and sealed again if another writer took that id first.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AccessDecisions, CredentialService, DeviceService, ProtectedItemService } from '../../../appliance/access/index.js';
import { Vault } from '../../../appliance/vault/index.js';
import type { KeyService } from '../../../appliance/keys/index.js';
import { services, type Services } from '../../helpers/fixtures.js';

/** A stand-in token whose sealing waits until the test lets it go; "sealed" values carry their context. */
class GatedToken {
  readonly contexts: string[] = [];
  private gate: Promise<void> = Promise.resolve();
  private open_: () => void = () => {};
  private requested: (() => void) | undefined;

  /** Hold the next seals until `release()`; resolves once a seal is waiting. */
  hold(): Promise<void> {
    this.gate = new Promise((r) => (this.open_ = r));
    return new Promise((r) => (this.requested = r));
  }
  release(): void {
    this.open_();
  }
  async seal(plain: Buffer, context: string): Promise<Buffer> {
    this.contexts.push(context);
    this.requested?.();
    this.requested = undefined;
    await this.gate;
    return Buffer.from(JSON.stringify({ context, plain: plain.toString('utf8') }));
  }
  async open(sealed: Buffer, context: string): Promise<Buffer> {
    const v = JSON.parse(sealed.toString('utf8')) as { context: string; plain: string };
    if (v.context !== context) throw new Error(`sealed for ${v.context}, opened as ${context}`);
    return Buffer.from(v.plain);
  }
}

/** Resolves with the promise's value, or rejects if it takes longer than `ms` (it would wait forever). */
async function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: still waiting after ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

describe('sealing happens before the transaction, never inside it', () => {
  let s: Services;
  let token: GatedToken;
  let devices: DeviceService;
  let credentials: CredentialService;
  let protectedItems: ProtectedItemService;
  let deviceId: number;
  const admin = { username: 'admin', ip: null };

  before(async () => {
    s = await services();
    token = new GatedToken();
    const vault = new Vault(() => token as unknown as KeyService);
    devices = new DeviceService({ store: s.store, audit: s.audit, clock: s.clock.read });
    credentials = new CredentialService({ store: s.store, audit: s.audit, vault, devices, clock: s.clock.read });
    const decisions = new AccessDecisions({ store: s.store, timeZone: async () => 'UTC', clock: s.clock.read });
    protectedItems = new ProtectedItemService({ store: s.store, audit: s.audit, vault, decisions, clock: s.clock.read });
    deviceId = (await devices.createDevice(admin, { hostname: 'db01', address: '127.0.2.10', connectivity: 'SSH:22' })).id;
  });
  after(() => s.close());

  /** Another writer commits while a seal waits; the seal is let go whatever happens. */
  async function writeWhileTheTokenWorks(): Promise<void> {
    try {
      // Sealed inside the transaction, this write would queue behind it until the token answered.
      await within(2000, s.audit.record({ type: 'auth.totp_enrol', outcome: 'info' }), 'a write while the token works');
    } finally {
      token.release();
    }
  }

  test('while a new credential waits for the token, other writers commit at once', async () => {
    const waiting = token.hold();
    const created = credentials.createCredential(admin, { deviceId, username: 'root', secret: 'first-secret' });
    await waiting;
    await writeWhileTheTokenWorks();
    const c = await created;
    assert.equal(await credentials.secretOf(c.id), 'first-secret');
    assert.equal(token.contexts.at(-1), `credential:${c.id}`);
  });

  test('while a changed secret waits for the token, other writers commit at once', async () => {
    const c = await credentials.createCredential(admin, { deviceId, username: 'svc', secret: 'old-secret' });
    const waiting = token.hold();
    const updated = credentials.updateCredential(admin, c.id, { secret: 'new-secret' });
    await waiting;
    await writeWhileTheTokenWorks();
    await updated;
    assert.equal(await credentials.secretOf(c.id), 'new-secret');
  });

  test('a new credential whose expected id another writer took is sealed again for the id it got', async () => {
    const expected = (await s.store.repos.credentials.highestCredentialId()) + 1;
    const waiting = token.hold();
    const created = credentials.createCredential(admin, { deviceId, username: 'late', secret: 'late-secret' });
    await waiting;
    // Another process inserts a credential meanwhile: it takes the id the first one was sealed for.
    const now = Date.now();
    const taken = await s.store.repos.credentials.insertCredential({ device_id: deviceId, kind: 'local-privileged', username: 'other', secret_kind: 'password', secret_sealed: '', domain: '', extra_info: '', labels: '[]', owner: '', auto_change: false, status_control: false, split_view: false, status: 'active', created_at: now, updated_at: now });
    assert.equal(taken, expected);
    token.release();
    const c = await created;
    // SQLite gives the rolled-back attempt's id again (expected + 1); InnoDB does not reuse ids of rolled-back
    // inserts, so there the row lands a step later. Either way it is sealed for the id it got.
    if (s.store.engineName === 'sqlite') assert.equal(c.id, expected + 1);
    assert.ok(c.id > expected);
    assert.ok(token.contexts.includes(`credential:${expected}`), 'first sealed for the id it expected');
    assert.equal(token.contexts.at(-1), `credential:${c.id}`);
    // The stored value opens under its own row's context (it would not under the taken id's).
    assert.equal(await credentials.secretOf(c.id), 'late-secret');
    const events = await s.store.repos.auditEvents.page(0, 10_000);
    assert.equal(events.filter((e) => e.type === 'credential.create' && e.subject === 'late@db01').length, 1, 'the rolled-back attempt left no audit row');
  });

  test('a protected item waits for the token outside its transaction too', async () => {
    const waiting = token.hold();
    const stored = protectedItems.storeProtected(admin, { name: 'bundle', kind: 'certificate', filename: 'b.pem', deviceId, contentBase64: Buffer.from('pem').toString('base64') });
    await waiting;
    await writeWhileTheTokenWorks();
    const { id } = await stored;
    assert.equal((await protectedItems.protectedContent(id)).toString(), 'pem');
  });
});
