// A throwaway OpenLDAP server (Debian's slapd) for a test: its own slapd.conf and database in a temporary
// directory, a self-signed certificate, LDAPS and plain LDAP (StartTLS) on free loopback ports, the suffix
// dc=example,dc=test with the entries the test loads. Killed and removed by stop().
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { freePort } from './sshd.js';

export const SLAPD = '/usr/sbin/slapd';
export const SUFFIX = 'dc=example,dc=test';
export const ROOT_DN = `cn=admin,${SUFFIX}`;

export interface SlapdServer {
  ldapsPort: number;
  ldapPort: number;
  rootPassword: string;
  /** Add LDIF as the root DN (ldapadd over plain LDAP on loopback). */
  add(ldif: string): void;
  /** Whether `dn` binds with `password` now (ldapwhoami over LDAPS). */
  binds(dn: string, password: string): boolean;
  /** Set a password as the root DN, behind anyone's back (ldappasswd). */
  setPassword(dn: string, password: string): void;
  stop(): void;
}

export function slapdAvailable(): boolean {
  return existsSync(SLAPD) && existsSync('/usr/bin/ldapadd');
}

async function listening(port: number, deadline: number): Promise<void> {
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`slapd did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Each entry may change its own password, `uid=pwadmin,ou=people` anyone's; nobody reads a password. */
export async function startSlapd(): Promise<SlapdServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'warden-slapd-'));
  mkdirSync(path.join(dir, 'db'));
  const key = path.join(dir, 'server.key');
  const cert = path.join(dir, 'server.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=ldap.example.test'], { stdio: 'ignore' });
  const rootPassword = `Root-${Math.random().toString(36).slice(2)}-Pw1`;
  const [ldapsPort, ldapPort] = [await freePort(), await freePort()];
  const conf = path.join(dir, 'slapd.conf');
  writeFileSync(
    conf,
    [
      'include /etc/ldap/schema/core.schema',
      'include /etc/ldap/schema/cosine.schema',
      'include /etc/ldap/schema/nis.schema',
      'include /etc/ldap/schema/inetorgperson.schema',
      `pidfile ${path.join(dir, 'slapd.pid')}`,
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      `TLSCertificateFile ${cert}`,
      `TLSCertificateKeyFile ${key}`,
      'password-hash {SSHA}',
      'database mdb',
      `suffix "${SUFFIX}"`,
      `rootdn "${ROOT_DN}"`,
      `rootpw ${rootPassword}`,
      `directory ${path.join(dir, 'db')}`,
      'maxsize 10485760',
      `access to attrs=userPassword by self write by dn.exact="uid=pwadmin,ou=people,${SUFFIX}" write by anonymous auth by * none`,
      'access to * by * read',
      '',
    ].join('\n'),
  );
  const child = spawn(SLAPD, ['-d', '0', '-f', conf, '-h', `ldaps://127.0.0.1:${ldapsPort}/ ldap://127.0.0.1:${ldapPort}/`], { stdio: 'ignore' });
  let exited = false;
  child.once('exit', () => (exited = true));
  try {
    await listening(ldapsPort, Date.now() + 20_000);
    await listening(ldapPort, Date.now() + 5_000);
  } catch (e) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const env = { ...process.env, LDAPTLS_REQCERT: 'never' };
  const run = (cmd: string, args: string[], input?: string) => spawnSync(cmd, args, { input, encoding: 'utf8', env });
  const server: SlapdServer = {
    ldapsPort,
    ldapPort,
    rootPassword,
    add(ldif) {
      const r = run('ldapadd', ['-x', '-H', `ldap://127.0.0.1:${ldapPort}`, '-D', ROOT_DN, '-w', rootPassword], ldif);
      if (r.status !== 0) throw new Error(`ldapadd failed: ${r.stderr}`);
    },
    binds(dn, password) {
      return run('ldapwhoami', ['-x', '-H', `ldaps://127.0.0.1:${ldapsPort}`, '-D', dn, '-w', password]).status === 0;
    },
    setPassword(dn, password) {
      const r = run('ldappasswd', ['-x', '-H', `ldap://127.0.0.1:${ldapPort}`, '-D', ROOT_DN, '-w', rootPassword, '-s', password, dn]);
      if (r.status !== 0) throw new Error(`ldappasswd failed: ${r.stderr}`);
    },
    stop() {
      if (!exited) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  server.add(`dn: ${SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\ndn: ou=people,${SUFFIX}\nobjectClass: organizationalUnit\nou: people\n`);
  return server;
}
