// The trusted CA store for certificate login: CA certificates installed by support staff (roots and
// intermediates, linked to their issuers), activated or inactivated by administrators, and the CRLs they
// signed. Every change bumps a revision and announces `trust.changed` on the change feed, in the same
// transaction; the web daemon hears it and swaps its TLS context live.
import { X509Certificate as NodeX509 } from 'node:crypto';
import type { Repositories, Store, TrustedCaRow } from '../store/index.js';
import type { AuditTrail } from '../audit/index.js';
import { NotFoundError, WardenError } from '../errors/index.js';
import { authorityRefusal, type TrustSnapshot } from './certificate-validator.js';
import { CertificateError, dn, issuedBy, isSelfSigned, notAfter, notBefore, parseCertificates, parseCrl, sameDistinguishedName, toPem } from './certificates.js';

export const PKI_REVISION_META = 'pki.revision';

export interface CaView {
  id: number;
  subject: string;
  issuer: string;
  serial: string;
  fingerprint: string;
  notBefore: string;
  notAfter: string;
  selfSigned: boolean;
  parentId: number | null;
  active: boolean;
  installedAt: string;
  installedBy: string;
}

export function caView(r: TrustedCaRow): CaView {
  return {
    id: r.id,
    subject: r.subject,
    issuer: r.issuer,
    serial: r.serial,
    fingerprint: r.fingerprint,
    notBefore: new Date(r.not_before).toISOString(),
    notAfter: new Date(r.not_after).toISOString(),
    selfSigned: r.self_signed,
    parentId: r.parent_id,
    active: r.active,
    installedAt: new Date(r.installed_at).toISOString(),
    installedBy: r.installed_by,
  };
}

/** A CA being installed whose subject is another CA's with a different key. */
export interface CaCollision {
  fingerprint: string;
  /** The CA it collides with; id null when that one is in the same file (installed with it, or not at all). */
  collidesWith: { id: number | null; subject: string; fingerprint: string };
}

const REFUSED = Symbol('refused: CA subject conflict');

export interface Actor {
  username: string;
  ip: string | null;
}

export class TrustStore {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditTrail,
    private readonly clock: () => number = Date.now,
  ) {}

  async revision(): Promise<number> {
    return Number((await this.store.repos.meta.get(PKI_REVISION_META)) ?? '0');
  }

  async list(): Promise<CaView[]> {
    return (await this.store.repos.trustedCas.all()).map(caView);
  }

  async get(id: number): Promise<CaView & { pem: string }> {
    const r = await this.store.repos.trustedCas.byId(id);
    if (!r) throw new NotFoundError('certificate authority');
    return { ...caView(r), pem: r.pem };
  }

  /**
   * What the TLS server advertises in its CertificateRequest: the PEM of exactly the CAs whose certificates
   * would be accepted now (the validator's own rule: the CA and every CA above it active, within validity,
   * not revoked by its issuer), so a browser offers only certificates that can log in. `changesAt` is when
   * that set next changes by the clock alone (a CA's validity starts or ends): the server recomputes then,
   * as it does when the revision moves.
   */
  async advertisedAuthorities(): Promise<{ pems: string[]; changesAt: number }> {
    const trust = await this.snapshot();
    const now = this.clock();
    let changesAt = Number.POSITIVE_INFINITY;
    for (const { row } of trust.cas) {
      const from = row.not_before;
      const until = row.not_after + 1;
      if (from > now) changesAt = Math.min(changesAt, from);
      if (until > now) changesAt = Math.min(changesAt, until);
    }
    return { pems: trust.cas.filter((c) => authorityRefusal(trust, c, now) === undefined).map((c) => c.row.pem), changesAt };
  }

  async snapshot(): Promise<TrustSnapshot> {
    const rows = await this.store.repos.trustedCas.all();
    const revoked = new Map<number, Set<string>>();
    for (const r of await this.store.repos.revocation.revokedSerials()) {
      if (!revoked.has(r.ca_id)) revoked.set(r.ca_id, new Set());
      revoked.get(r.ca_id)!.add(r.serial);
    }
    return { cas: rows.map((row) => ({ row, cert: new NodeX509(row.pem) })), revoked };
  }

  /**
   * Install one CA certificate or a chain (PEM bundle or DER). Each must be a CA (basicConstraints
   * CA:TRUE); each is linked to its issuer if that is in the store or in the same bundle. Already
   * installed certificates are skipped. All or nothing.
   *
   * A CA whose subject is the name of an installed CA (or of another CA in the same file) with a different
   * key is refused unless `force`: the TLS CertificateRequest and a browser's choice of certificate go by
   * name, so two keys under one name make "this CA" ambiguous, and a silently added second key would be
   * trusted at once. A renewed certificate of the same CA (same name, same key) installs normally.
   */
  async install(input: Buffer | string, actor: Actor, opts: { force?: boolean } = {}): Promise<CaView[]> {
    const certs = parseCertificates(input);
    for (const c of certs) {
      if (!c.ca) throw new CertificateError(`${dn(c.subject)} is not a CA certificate (basicConstraints CA:TRUE is missing)`);
    }
    const now = this.clock();
    let refusal: { message: string; collisions: CaCollision[] } | undefined;
    const out = await this.store.transaction(async (repos) => {
      const known = (await repos.trustedCas.all()).map((r) => ({ row: r, cert: new NodeX509(r.pem), fromInput: false }));
      const out: TrustedCaRow[] = [];
      const collisions: CaCollision[] = [];
      for (const cert of certs) {
        if (known.some((k) => k.row.fingerprint === cert.fingerprint256)) continue;
        const sameName = known.filter((k) => sameDistinguishedName(k.cert.subject, cert.subject) && !k.cert.publicKey.equals(cert.publicKey));
        for (const k of sameName) {
          collisions.push({ fingerprint: cert.fingerprint256, collidesWith: { id: k.fromInput ? null : k.row.id, subject: k.row.subject, fingerprint: k.row.fingerprint } });
        }
        if (sameName.length > 0 && !opts.force) {
          const k = sameName[0]!;
          const other = k.fromInput
            ? `another CA certificate in the same file (${k.row.subject}, fingerprint ${k.row.fingerprint})`
            : `installed CA ${k.row.id} (${k.row.subject}, fingerprint ${k.row.fingerprint})`;
          refusal = {
            message:
              `refused: the CA ${dn(cert.subject)} (fingerprint ${cert.fingerprint256}) has the same subject as ${other}, ` +
              'but a different key; a second key under a trusted CA\'s name is refused unless forced',
            collisions: collisions.filter((c) => c.fingerprint === cert.fingerprint256),
          };
          // Thrown, not returned: CAs of the same file inserted before this one must roll back too.
          throw REFUSED;
        }
        const selfSigned = isSelfSigned(cert);
        const fields = {
          subject: dn(cert.subject),
          issuer: dn(cert.issuer),
          serial: cert.serialNumber,
          fingerprint: cert.fingerprint256,
          not_before: notBefore(cert),
          not_after: notAfter(cert),
          self_signed: selfSigned,
          parent_id: null,
          active: true,
          pem: toPem(cert),
          installed_at: now,
          installed_by: actor.username,
          updated_at: now,
        };
        const id = await repos.trustedCas.insert(fields);
        const full: TrustedCaRow = { ...fields, id };
        known.push({ row: full, cert, fromInput: true });
        out.push(full);
      }
      // Link every unlinked non-root to its issuer, whatever the order in the file or across installs.
      for (const k of known) {
        if (k.row.parent_id !== null || k.row.self_signed) continue;
        const parent = known.find((p) => p !== k && issuedBy(k.cert, p.cert));
        if (parent) {
          await repos.trustedCas.update(k.row.id, { parent_id: parent.row.id });
          k.row.parent_id = parent.row.id;
        }
      }
      if (out.length === 0) return out;
      await this.bump(repos);
      await this.audit.record(
        {
          type: 'pki.ca_install',
          outcome: 'success',
          actor: actor.username,
          actorIp: actor.ip,
          subject: out.map((o) => o.subject).join(' | ').slice(0, 128),
          detail: {
            fingerprints: out.map((o) => o.fingerprint),
            ...(collisions.length > 0 ? { forced: true, collisions } : {}),
          },
        },
        repos,
      );
      return out;
    }).catch((e: unknown) => {
      if (e === REFUSED) return undefined;
      throw e;
    });
    if (!out) {
      // Nothing was written (the transaction rolled back); the attempt is audited.
      await this.audit.record({
        type: 'pki.ca_install',
        outcome: 'failure',
        actor: actor.username,
        actorIp: actor.ip,
        code: 'CA_SUBJECT_CONFLICT',
        subject: refusal!.collisions[0]!.collidesWith.subject.slice(0, 128),
        detail: { collisions: refusal!.collisions },
      });
      throw new WardenError('CA_SUBJECT_CONFLICT', refusal!.message, { details: { collisions: refusal!.collisions } });
    }
    const ids = new Set(out.map((o) => o.id));
    return (await this.list()).filter((c) => ids.has(c.id));
  }

  async setActive(id: number, active: boolean, actor: Actor): Promise<CaView> {
    const ca = await this.get(id);
    await this.audit.withChange(
      { type: active ? 'pki.ca_enable' : 'pki.ca_disable', outcome: 'success', actor: actor.username, actorIp: actor.ip, subject: ca.subject.slice(0, 128), detail: { id, fingerprint: ca.fingerprint } },
      async (repos) => {
        await repos.trustedCas.update(id, { active, updated_at: this.clock() });
        await this.bump(repos);
      },
    );
    return caView((await this.store.repos.trustedCas.byId(id))!);
  }

  /** Install a CRL: it must be signed by an installed CA; it replaces that CA's previous CRL. */
  async installCrl(input: Buffer | string, actor: Actor): Promise<{ caId: number; subject: string; entries: number }> {
    const crl = await parseCrl(input);
    const snapshot = await this.snapshot();
    let issuer: TrustSnapshot['cas'][number] | undefined;
    for (const c of snapshot.cas) {
      if (await crl.verify(c.cert)) {
        issuer = c;
        break;
      }
    }
    if (!issuer) throw new CertificateError('the CRL is not signed by an installed CA');
    const ca = issuer.row;
    await this.audit.withChange(
      { type: 'pki.crl_install', outcome: 'success', actor: actor.username, actorIp: actor.ip, subject: ca.subject.slice(0, 128), detail: { entries: crl.serials.length } },
      async (repos) => {
        await repos.revocation.replaceCrl({ caId: ca.id, thisUpdate: crl.thisUpdate, nextUpdate: crl.nextUpdate, der: crl.der.toString('base64'), serials: crl.serials, at: this.clock(), by: actor.username });
        await this.bump(repos);
      },
    );
    return { caId: ca.id, subject: ca.subject, entries: crl.serials.length };
  }

  private async bump(repos: Repositories): Promise<void> {
    const revision = Number((await repos.meta.get(PKI_REVISION_META)) ?? '0') + 1;
    await repos.meta.set(PKI_REVISION_META, String(revision));
    await repos.changes.announce('trust.changed', 'trust', { revision });
  }
}
