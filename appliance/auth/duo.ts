// Duo Universal Prompt as an external MFA provider, through Duo's own SDK (@duosecurity/duo_universal):
// provider settings (client secret sealed by the key service), a health check on every save, the
// authorize redirect and the callback. The SDK checks the token's signature and user name; the state and
// `auth_result.result === 'allow'` are checked here, because the SDK does not.
// The API host is one of Duo's (api-XXXXXXXX.duosecurity.com) and a failed health check answers one text:
// the Duo client must not become an administrator's probe of other hosts and ports.
import type https from 'node:https';
import { timingSafeEqual } from 'node:crypto';
import type { Client } from '@duosecurity/duo_universal';
import type { MfaProviderRow, Store, UserRow } from '../store/index.js';
import type { AuditTrail } from '../audit/index.js';
import { insertSealed, type Vault } from '../vault/index.js';
import { AuthError, InputError, NotFoundError, PolicyError } from '../errors/index.js';
import { requireText } from '../errors/index.js';
import { logger } from '../log/index.js';

const log = logger('duo');

export interface DuoProviderView {
  id: number;
  name: string;
  kind: 'duo';
  enabled: boolean;
  apiHost: string;
  clientId: string;
  clientSecretSet: boolean;
  updatedAt: string;
}

export interface DuoProviderInput {
  name: string;
  enabled: boolean;
  apiHost: string;
  clientId: string;
  /** Required when creating; omitted on update to keep the stored one. */
  clientSecret?: string;
}

export interface DuoSaveResult {
  provider: DuoProviderView;
  /** SameSite of the session cookie from now on: Lax while an external MFA provider is enabled. */
  sessionCookieSameSite: 'Strict' | 'Lax';
  sameSiteChanged: boolean;
}

/** Duo's API host names: no port, no path, no user info, nothing around it. */
const DUO_API_HOST = /^api-[a-z0-9]{1,32}\.duosecurity\.com$/i;

/** What a client is told about any failed health check; the precise reason goes to the audit trail. */
export const DUO_HEALTH_CHECK_FAILED = 'the Duo health check failed';

function view(r: MfaProviderRow): DuoProviderView {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    enabled: r.enabled,
    apiHost: r.api_host,
    clientId: r.client_id,
    clientSecretSet: r.client_secret_sealed.length > 0,
    updatedAt: new Date(r.updated_at).toISOString(),
  };
}

function sameState(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class DuoService {
  constructor(
    private readonly deps: {
      store: Store;
      audit: AuditTrail;
      vault: Vault;
      clock?: () => number;
      /**
       * Replaces the SDK's pinned-CA agent: for a TLS-inspecting proxy's CA, and for tests against a
       * local server speaking Duo's protocol. Absent, the SDK's pinned Duo CAs are used.
       */
      httpsAgent?: https.Agent;
      /**
       * Exact "host:port" entries accepted besides Duo's names: a local Duo-protocol server in tests
       * (config auth.duoTestHosts, loopback only, and only with auth.duoCaFile).
       */
      testApiHosts?: readonly string[];
    },
  ) {}

  /** Is `host` one the Duo client may connect to? */
  static isDuoApiHost(host: string): boolean {
    return DUO_API_HOST.test(host);
  }

  private apiHostAllowed(host: string): boolean {
    return DuoService.isDuoApiHost(host) || (this.deps.testApiHosts ?? []).includes(host.toLowerCase());
  }

  private now(): number {
    return (this.deps.clock ?? Date.now)();
  }

  private async client(p: { apiHost: string; clientId: string; clientSecret: string }, redirectUrl: string): Promise<Client> {
    // Checked here too, where every connection starts: a row saved before hosts were restricted is refused.
    if (!this.apiHostAllowed(p.apiHost)) throw new PolicyError('MFA_PROVIDER_INVALID', `Duo API host ${p.apiHost} is not a Duo API host name`);
    // Loaded on first use: the SDK (with axios) costs a quarter second at every start otherwise.
    const { Client: DuoClient } = await import('@duosecurity/duo_universal');
    let client: Client;
    try {
      client = new DuoClient({ clientId: p.clientId, clientSecret: p.clientSecret, apiHost: p.apiHost, redirectUrl });
    } catch (e) {
      throw new PolicyError('MFA_PROVIDER_INVALID', `Duo settings rejected: ${(e as Error).message}`);
    }
    // The SDK keeps its axios instance private; its defaults are the documented seam (FIELD-NOTES).
    const defaults = (client as unknown as { axios?: { defaults?: { httpsAgent?: https.Agent; maxRedirects?: number } } }).axios?.defaults;
    if (!defaults) throw new PolicyError('MFA_PROVIDER_INVALID', 'the Duo SDK no longer exposes its HTTP client');
    // Duo's endpoints answer directly; a redirect would lead the request off the allowed host.
    defaults.maxRedirects = 0;
    if (this.deps.httpsAgent) defaults.httpsAgent = this.deps.httpsAgent;
    return client;
  }

  private secretOf(r: MfaProviderRow): Promise<string> {
    return this.deps.vault.openText(r.client_secret_sealed, `mfa-provider:${r.id}`);
  }

  async list(): Promise<DuoProviderView[]> {
    return (await this.deps.store.repos.mfaProviders.all()).map(view);
  }

  async cookieSameSite(): Promise<'Strict' | 'Lax'> {
    return (await this.deps.store.repos.mfaProviders.anyEnabled()) ? 'Lax' : 'Strict';
  }

  static validate(input: unknown, creating: boolean): DuoProviderInput {
    if (typeof input !== 'object' || input === null) throw new InputError('provider must be an object');
    const i = input as Record<string, unknown>;
    const name = requireText(i.name, 'name', { min: 1, max: 64 });
    if (typeof i.enabled !== 'boolean') throw new InputError('enabled must be true or false', { field: 'enabled' });
    const apiHost = requireText(i.apiHost, 'apiHost', { min: 1, max: 255 });
    const clientId = requireText(i.clientId, 'clientId', { min: 20, max: 20 });
    if (!/^[A-Z0-9]{20}$/i.test(clientId)) throw new InputError('clientId must be the 20-character Duo client ID', { field: 'clientId' });
    let clientSecret: string | undefined;
    if (i.clientSecret !== undefined) {
      clientSecret = requireText(i.clientSecret, 'clientSecret', { min: 40, max: 40 });
    } else if (creating) {
      throw new InputError('clientSecret is required', { field: 'clientSecret' });
    }
    return { name, enabled: i.enabled, apiHost, clientId, ...(clientSecret ? { clientSecret } : {}) };
  }

  /**
   * Create (id undefined) or update a Duo provider. Duo's health check runs first with the new settings;
   * if it fails nothing is saved. The answer says whether the session cookie's SameSite changed.
   */
  async save(actor: { username: string; ip: string | null }, raw: unknown, id?: number): Promise<DuoSaveResult> {
    const existing = id === undefined ? undefined : await this.deps.store.repos.mfaProviders.byId(id);
    if (id !== undefined && !existing) throw new NotFoundError('MFA provider');
    const input = DuoService.validate(raw, id === undefined);
    // Before any connection: only Duo's API hosts (a loopback test server only when the config names it).
    if (!this.apiHostAllowed(input.apiHost)) {
      throw new InputError('apiHost must be a Duo API host name such as api-XXXXXXXX.duosecurity.com (no port, no path)', { field: 'apiHost' });
    }
    const clientSecret = input.clientSecret ?? (await this.secretOf(existing!));
    try {
      await (await this.client({ apiHost: input.apiHost, clientId: input.clientId, clientSecret }, 'https://localhost/')).healthCheck();
    } catch (e) {
      // Refused, untrusted certificate, not TLS, Duo's own error: all one answer, or the differences map
      // what listens where. The reason is kept for the operator in the audit trail and the log.
      const reason = (e as Error)?.message ?? String(e);
      log.warn('Duo health check failed', { apiHost: input.apiHost, reason });
      await this.deps.audit.record({
        type: 'mfa.provider_save',
        outcome: 'failure',
        actor: actor.username,
        actorIp: actor.ip,
        subject: input.name,
        code: 'MFA_PROVIDER_INVALID',
        detail: { kind: 'duo', apiHost: input.apiHost, reason },
      });
      throw new PolicyError('MFA_PROVIDER_INVALID', DUO_HEALTH_CHECK_FAILED);
    }
    const before = await this.cookieSameSite();
    const now = this.now();
    const event = { type: 'mfa.provider_save', outcome: 'success', actor: actor.username, actorIp: actor.ip, subject: input.name, detail: { kind: 'duo', enabled: input.enabled, apiHost: input.apiHost } } as const;
    const fields = { name: input.name, kind: 'duo' as const, enabled: input.enabled, api_host: input.apiHost, client_id: input.clientId, updated_at: now };
    // Sealed under the row id (the AAD), so the secret cannot be moved to another provider row; sealed before
    // the transaction, for a new row with the id it is expected to get (confirmed in the transaction).
    const seal = (rowId: number) => this.deps.vault.sealText(input.clientSecret!, `mfa-provider:${rowId}`);
    let providerId: number;
    if (id === undefined) {
      const guess = (await this.deps.store.repos.mfaProviders.highestId()) + 1;
      providerId = await insertSealed(guess, seal, (sealed, confirm) =>
        this.deps.audit.withChange(event, async (repos) => {
          const rowId = await repos.mfaProviders.insert({ ...fields, client_secret_sealed: sealed, created_at: now });
          confirm(rowId);
          return rowId;
        }),
      );
    } else {
      providerId = id;
      const sealed = input.clientSecret ? await seal(id) : undefined;
      await this.deps.audit.withChange(event, (repos) => repos.mfaProviders.update(id, { ...fields, ...(sealed !== undefined ? { client_secret_sealed: sealed } : {}) }));
    }
    const after = await this.cookieSameSite();
    return { provider: view((await this.deps.store.repos.mfaProviders.byId(providerId))!), sessionCookieSameSite: after, sameSiteChanged: before !== after };
  }

  private async enabledProvider(): Promise<MfaProviderRow> {
    const p = await this.deps.store.repos.mfaProviders.enabled('duo');
    if (!p) throw new AuthError('MFA_DUO_UNAVAILABLE', 'no Duo provider is enabled');
    return p;
  }

  /** Health-check Duo and build the authorize URL for `user`; the caller keeps `state` in the session. */
  async start(user: Pick<UserRow, 'username'>, redirectUrl: string): Promise<{ url: string; state: string }> {
    const p = await this.enabledProvider();
    const clientSecret = await this.secretOf(p); // a key-service failure stays one (503), not "Duo unavailable"
    let client: Client;
    try {
      client = await this.client({ apiHost: p.api_host, clientId: p.client_id, clientSecret }, redirectUrl);
      await client.healthCheck();
    } catch (e) {
      // Fail closed: Duo unreachable means no second factor, so no login.
      throw new AuthError('MFA_DUO_UNAVAILABLE', `Duo health check failed: ${(e as Error).message}`);
    }
    const state = client.generateState();
    return { url: await client.createAuthUrl(user.username, state), state };
  }

  /** Complete the callback: the state must match, the SDK verifies the token, the result must be allow. */
  async finish(user: Pick<UserRow, 'username'>, opts: { code: string; state: string; expectedState: string | null; redirectUrl: string }): Promise<void> {
    if (!opts.expectedState || !sameState(opts.state, opts.expectedState)) throw new AuthError('MFA_DUO_STATE', 'Duo state does not match the session');
    const p = await this.enabledProvider();
    const clientSecret = await this.secretOf(p);
    let client: Client;
    try {
      client = await this.client({ apiHost: p.api_host, clientId: p.client_id, clientSecret }, opts.redirectUrl);
    } catch (e) {
      throw new AuthError('MFA_DUO_UNAVAILABLE', `Duo client refused: ${(e as Error).message}`);
    }
    let token;
    try {
      token = await client.exchangeAuthorizationCodeFor2FAResult(opts.code, user.username);
    } catch (e) {
      throw new AuthError('MFA_DUO_DENIED', `Duo token exchange failed: ${(e as Error).message}`);
    }
    if (token?.auth_result?.result !== 'allow') {
      throw new AuthError('MFA_DUO_DENIED', `Duo answered ${token?.auth_result?.result ?? 'nothing'} (${token?.auth_result?.status ?? ''})`);
    }
  }
}
