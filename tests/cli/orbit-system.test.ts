// orbit network|dns|hostname|ntp|timezone|cert|services|firewall as a deployer runs them (a real process, flags
// only), against a temporary --root: the files each writes, what show reads back, and every bad input refused
// with one clear line and every file under the root byte for byte as it was. Once the appliance is initialized
// the changes are audited (W2200-W2207), before that they are not.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';
import { createCa, issueLeaf, keyPem, EKU_SERVER_AUTH, EKU_CLIENT_AUTH, type Issued } from '../helpers/pki.js';
import { initializedHome, type InitializedHome } from '../helpers/fixtures.js';
import { runOrbit, type OrbitRun } from '../helpers/orbit.js';
import { snapshot, systemRoot } from '../helpers/system-root.js';
import { loadOrCreateHostKey } from '../../daemons/terminal-proxy/host-key.js';

const DAY = 86_400_000;
const systemdHere = existsSync('/run/systemd/system');

describe('orbit OS settings against --root', { timeout: 300_000 }, () => {
  const root = systemRoot('warden-orbit-root-');
  // Not initialized: no config there, so nothing is audited; the web files land under it.
  const home = path.join(root.dir, 'var/lib/warden');
  const orbit = (args: string[]) => runOrbit(home, ['--root', root.dir, ...args]);
  const read = (p: string) => readFileSync(path.join(root.dir, p), 'utf8');
  after(() => root.cleanup());

  /** The command is refused with `message` on stderr and exit `code`; no file under the root changed. */
  async function refused(args: string[], message: RegExp, code = 1): Promise<OrbitRun> {
    const before = snapshot(root.dir);
    const r = await orbit(args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, message);
    assert.deepEqual(snapshot(root.dir), before, `${args.join(' ')} changed nothing`);
    return r;
  }

  /** Several refusals, a few at a time (each is a whole process); none of them changed any file. */
  async function refusedAll(cases: [string[], RegExp, number?][]): Promise<void> {
    const before = snapshot(root.dir);
    for (let i = 0; i < cases.length; i += 3) {
      const batch = cases.slice(i, i + 3);
      const runs = await Promise.all(batch.map(([args]) => orbit(args)));
      batch.forEach(([args, message, code], j) => {
        assert.equal(runs[j]!.code, code ?? 1, `${args.join(' ')}: ${runs[j]!.stdout}${runs[j]!.stderr}`);
        assert.match(runs[j]!.stderr, message, args.join(' '));
      });
    }
    assert.deepEqual(snapshot(root.dir), before, 'no refused command changed a file');
  }

  async function ok(args: string[]): Promise<OrbitRun> {
    const r = await orbit(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r;
  }

  const helps = [
    ['network', 'show'], ['network', 'set'], ['dns', 'show'], ['dns', 'set'], ['hostname', 'show'], ['hostname', 'set'],
    ['ntp', 'show'], ['ntp', 'set'], ['timezone', 'show'], ['timezone', 'set'], ['cert', 'web', 'install'], ['cert', 'web', 'csr'],
    ['cert', 'web', 'self-signed'], ['cert', 'web', 'show'], ['cert', 'ssh', 'show'], ['services', 'status'], ['services', 'restart'], ['firewall', 'show'],
  ];
  test('every command explains itself with --help and exits 0; the changes say when they are audited', async () => {
    // A few at a time: each is a whole orbit process.
    const runs: OrbitRun[] = [];
    for (let i = 0; i < helps.length; i += 4) runs.push(...(await Promise.all(helps.slice(i, i + 4).map((p) => orbit([...p, '--help'])))));
    for (const [i, p] of helps.entries()) {
      const r = runs[i]!;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^Usage: orbit ${p.join(' ')}`, 'm'));
      if (['set', 'install', 'csr', 'self-signed', 'restart'].includes(p.at(-1)!)) assert.match(r.stdout, /before that there is no audit trail yet and nothing is recorded/, p.join(' '));
    }
    assert.match((await orbit(['--help'])).stdout, /--root <dir>/);
  });

  test('network set writes the networkd file; show reads it back; a family not given is kept', async () => {
    const r = await ok(['network', 'set', '--interface', 'eth0', '--address', '127.0.0.10/8', '--gateway', '127.0.0.1', '--ipv6-address', '::1/128', '--ipv6-gateway', '::1']);
    assert.equal(r.stdout, 'eth0: IPv4 127.0.0.10/8 via 127.0.0.1, IPv6 ::1/128 via ::1 (/etc/systemd/network/10-warden-eth0.network)\n');
    assert.equal(read('etc/systemd/network/10-warden-eth0.network'), '# Written by orbit ("orbit network set"); change it with orbit, not by hand.\n[Match]\nName=eth0\n\n[Network]\nDHCP=no\nAddress=127.0.0.10/8\nGateway=127.0.0.1\nAddress=::1/128\nGateway=::1\nIPv6AcceptRA=no\nLinkLocalAddressing=ipv6\n');
    assert.equal(statSync(path.join(root.dir, 'etc/systemd/network/10-warden-eth0.network')).mode & 0o777, 0o644, 'readable by systemd-networkd despite orbit\'s umask');
    await ok(['network', 'set', '--interface', 'eth0', '--dhcp']);
    const shown = JSON.parse((await ok(['network', 'show', '--json'])).stdout);
    assert.deepEqual(shown, { interfaces: [{ interface: 'eth0', ipv4: { dhcp: true }, ipv6: { address: '::1/128', gateway: '::1' } }] });
    await ok(['network', 'set', '--interface', 'eth1', '--ipv4-off', '--ipv6-auto']);
    assert.match((await ok(['network', 'show'])).stdout, /^eth0\s+dhcp\s+::1\/128 via ::1\neth1\s+disabled\s+auto\n$/m);
  });

  test('network set: bad input refused with a clear line, nothing changed', async () => {
    await refusedAll([
      [['network', 'set', '--interface', 'eth0', '--address', '127.0.0.10'], /^orbit: IPv4 address 127\.0\.0\.10 has no prefix length: write it as address\/prefix/],
      [['network', 'set', '--interface', 'eth0', '--address', '127.0.0.10/8', '--gateway', '::1'], /IPv4 gateway ::1 is an IPv6 address, outside the IPv4 family/],
      [['network', 'set', '--interface', 'eth0', '--ipv6-address', '::1/128', '--ipv6-gateway', '127.0.0.1'], /IPv6 gateway 127\.0\.0\.1 is an IPv4 address/],
      [['network', 'set', '--interface', 'eth0', '--ipv6-address', '127.0.0.10/8'], /is an IPv4 address; an IPv6 address is expected/],
      [['network', 'set', '--interface', 'eth 0', '--dhcp'], /interface "eth 0" is not an interface name/],
      [['network', 'set', '--interface', 'eth0/../x', '--dhcp'], /is not an interface name/],
    ]);
    // Contradictions are usage errors (exit 2).
    await refusedAll([
      [['network', 'set', '--interface', 'eth0', '--dhcp', '--address', '127.0.0.10/8'], /--dhcp and --address exclude each other/, 2],
      [['network', 'set', '--interface', 'eth0', '--gateway', '127.0.0.1'], /--gateway goes with --address/, 2],
      [['network', 'set', '--interface', 'eth0', '--ipv6-auto', '--ipv6-dhcp'], /exclude each other/, 2],
      [['network', 'set', '--interface', 'eth0'], /nothing to set/, 2],
      [['network', 'set', '--dhcp'], /required option '--interface <name>'/, 2],
    ]);
  });

  test('dns set and show; a search domain with a space or a server that is no address is refused', async () => {
    await ok(['dns', 'set', '--server', '127.0.0.53', '--server', '::1', '--search', 'corp.localhost']);
    assert.equal(read('etc/systemd/resolved.conf.d/warden.conf'), '# Written by orbit ("orbit dns set"); change it with orbit, not by hand.\n[Resolve]\nDNS=127.0.0.53 ::1\nDomains=corp.localhost\n');
    assert.deepEqual(JSON.parse((await ok(['dns', 'show', '--json'])).stdout), { servers: ['127.0.0.53', '::1'], search: ['corp.localhost'] });
    assert.equal((await ok(['dns', 'show'])).stdout, 'servers: 127.0.0.53 ::1\nsearch:  corp.localhost\n');
    await refused(['dns', 'set', '--server', '127.0.0.53', '--search', 'corp localhost'], /^orbit: search domain "corp localhost" contains a space/);
    await refused(['dns', 'set', '--server', 'dns.localhost'], /DNS server "dns\.localhost" is not an IP address/);
    await refused(['dns', 'set', '--search', 'corp.localhost'], /give at least one --server/, 2);
  });

  test('hostname set and show; a name with a space is refused', async () => {
    assert.equal((await ok(['hostname', 'show'])).stdout, '(not set)\n');
    await ok(['hostname', 'set', 'warden1.lab.localhost']);
    assert.equal(read('etc/hostname'), 'warden1.lab.localhost\n');
    assert.match(read('etc/hosts'), /^127\.0\.1\.1\twarden1\.lab\.localhost warden1$/m);
    assert.equal((await ok(['hostname', 'show'])).stdout, 'warden1.lab.localhost\n');
    await refused(['hostname', 'set', 'my warden'], /host name "my warden" contains a space/);
    await refused(['hostname', 'set', 'under_score'], /label "under_score"/);
  });

  test('ntp set and show', async () => {
    await ok(['ntp', 'set', '--server', 'ntp.localhost', '--server', '127.0.0.1']);
    assert.equal(read('etc/systemd/timesyncd.conf.d/warden.conf'), '# Written by orbit ("orbit ntp set"); change it with orbit, not by hand.\n[Time]\nNTP=ntp.localhost 127.0.0.1\n');
    assert.deepEqual(JSON.parse((await ok(['ntp', 'show', '--json'])).stdout), { servers: ['ntp.localhost', '127.0.0.1'] });
    await refused(['ntp', 'set', '--server', 'ntp localhost'], /contains a space/);
    await refused(['ntp', 'set'], /give at least one --server/, 2);
  });

  test('timezone set and show; a zone the root\'s tzdata lacks is refused', async () => {
    await ok(['timezone', 'set', 'America/New_York']);
    assert.equal(readlinkSync(path.join(root.dir, 'etc/localtime')), '/usr/share/zoneinfo/America/New_York');
    assert.equal(read('etc/timezone'), 'America/New_York\n');
    assert.equal((await ok(['timezone', 'show'])).stdout, 'America/New_York\n');
    await refused(['timezone', 'set', 'Asia/Tokyo'], /unknown time zone "Asia\/Tokyo": no such zone in /);
    await refused(['timezone', 'set', 'Not A Zone'], /is not a time zone name/);
  });

  describe('cert web', () => {
    let ca: Issued;
    let inter: Issued;
    const crt = () => path.join(home, 'tls', 'web.crt');
    const key = () => path.join(home, 'tls', 'web.key');
    const file = (name: string, content: string) => {
      const p = path.join(root.dir, 'in', name);
      mkdirSync(path.dirname(p), { recursive: true });
      writeFileSync(p, content);
      return p;
    };
    before(async () => {
      ca = await createCa('Orbit Root CA');
      inter = await createCa('Orbit Issuing CA', { parent: ca });
    });

    test('self-signed writes the configured files (0600 when new); show prints subject, names, validity, fingerprint', async () => {
      const r = await ok(['cert', 'web', 'self-signed', '--host', 'warden1.lab.localhost', '--days', '30', '--json']);
      const out = JSON.parse(r.stdout);
      assert.equal(out.installed.subject, 'CN=warden1.lab.localhost');
      assert.deepEqual(out.installed.sans, ['DNS:warden1.lab.localhost', 'DNS:localhost', 'IP:127.0.0.1', 'IP:::1']);
      const served = new X509Certificate(readFileSync(crt()));
      assert.equal(served.fingerprint256, out.installed.fingerprint);
      assert.ok(served.checkPrivateKey(await import('node:crypto').then((c) => c.createPrivateKey(readFileSync(key())))));
      assert.equal(statSync(key()).mode & 0o777, 0o600);
      const shown = (await ok(['cert', 'web', 'show'])).stdout;
      assert.match(shown, /^subject: +CN=warden1\.lab\.localhost$/m);
      assert.match(shown, /^names: +DNS:warden1\.lab\.localhost, DNS:localhost, IP:127\.0\.0\.1, IP:::1$/m);
      assert.match(shown, new RegExp(`^sha256: +${served.fingerprint256}$`, 'm'));
      assert.match(shown, /^valid: +\d{4}-\d\d-\d\dT.* to \d{4}-/m);
    });

    test('install: a certificate from a CA with key and chain; the file holds leaf then chain', async () => {
      const leaf = await issueLeaf(inter, { commonName: 'warden1.lab.localhost', eku: [EKU_SERVER_AUTH] });
      const r = await ok(['cert', 'web', 'install', '--cert', file('leaf.pem', leaf.pem), '--key', file('leaf.key', await keyPem(leaf.keys)), '--chain', file('chain.pem', inter.pem)]);
      assert.match(r.stdout, /^installed the web certificate:\nsubject: +CN=warden1\.lab\.localhost$/m);
      assert.match(r.stdout, /^chain: +1 CA certificate\(s\) after it$/m);
      const pems = readFileSync(crt(), 'utf8').match(/-----BEGIN CERTIFICATE-----/g);
      assert.equal(pems?.length, 2);
      assert.equal(new X509Certificate(readFileSync(crt())).fingerprint256, new X509Certificate(leaf.pem).fingerprint256);
    });

    test('install refuses, changing nothing: a key that does not match, an expired or future certificate, a client-only one, a chain out of order, a CA', async () => {
      const leaf = await issueLeaf(inter, { commonName: 'warden1.lab.localhost', eku: [EKU_SERVER_AUTH] });
      const other = await issueLeaf(inter, { commonName: 'other', eku: [EKU_SERVER_AUTH] });
      const leafPem = file('l.pem', leaf.pem);
      const leafKey = file('l.key', await keyPem(leaf.keys));
      await refusedAll([
        [['cert', 'web', 'install', '--cert', leafPem, '--key', file('o.key', await keyPem(other.keys))], /^orbit: the key does not match the certificate \(CN=warden1\.lab\.localhost\): its public key is another/],
      ]);
      const expired = await issueLeaf(inter, { commonName: 'old', eku: [EKU_SERVER_AUTH], notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) });
      await refusedAll([
        [['cert', 'web', 'install', '--cert', file('e.pem', expired.pem), '--key', file('e.key', await keyPem(expired.keys))], /the certificate has expired: valid until/],
      ]);
      const future = await issueLeaf(inter, { commonName: 'soon', eku: [EKU_SERVER_AUTH], notBefore: new Date(Date.now() + DAY), notAfter: new Date(Date.now() + 10 * DAY) });
      await refusedAll([
        [['cert', 'web', 'install', '--cert', file('f.pem', future.pem), '--key', file('f.key', await keyPem(future.keys))], /the certificate is not valid yet: valid from/],
      ]);
      const client = await issueLeaf(inter, { commonName: 'client', eku: [EKU_CLIENT_AUTH] });
      await refusedAll([
        [['cert', 'web', 'install', '--cert', file('c.pem', client.pem), '--key', file('c.key', await keyPem(client.keys))], /not for TLS servers: its extended key usage lacks serverAuth/],
        [['cert', 'web', 'install', '--cert', leafPem, '--key', leafKey, '--chain', file('wrong-chain.pem', ca.pem)], /the chain is out of order: "CN=warden1\.lab\.localhost" is not issued by the next certificate/],
        [['cert', 'web', 'install', '--cert', file('ca.pem', ca.pem), '--key', file('ca.key', await keyPem(ca.keys))], /is a CA certificate, not a server certificate/],
        [['cert', 'web', 'install', '--cert', leafPem, '--key', file('junk.key', 'not a key')], /the key is not a private key in PEM/],
        [['cert', 'web', 'install', '--cert', file('junk.pem', 'junk'), '--key', leafKey], /the certificate: not a valid X.509 certificate/],
        [['cert', 'web', 'install', '--cert', path.join(root.dir, 'in', 'missing.pem'), '--key', leafKey], /cannot read the certificate .*missing\.pem: ENOENT/],
        [['cert', 'web', 'install', '--cert', leafPem], /no key given and no key waiting from "orbit cert web csr"/],
      ]);
    });

    test('csr keeps the key on the appliance; install without --key pairs the signed certificate with it', async () => {
      const out = path.join(root.dir, 'in', 'web.csr');
      const r = await ok(['cert', 'web', 'csr', '--cn', 'warden2.lab.localhost', '--san', 'warden2', '--san', '127.0.0.1', '--out', out]);
      assert.match(r.stdout, /^CSR for CN=warden2\.lab\.localhost \(warden2\.lab\.localhost, warden2, 127\.0\.0\.1\) written to /);
      const pending = `${key()}.pending`;
      assert.ok(existsSync(pending));
      assert.equal(statSync(pending).mode & 0o777, statSync(key()).mode & 0o777, 'as private as the live key');
      // The deployer's CA signs it.
      const csr = new x509.Pkcs10CertificateRequest(readFileSync(out, 'utf8'));
      assert.ok(await csr.verify());
      assert.equal(csr.subject, 'CN=warden2.lab.localhost');
      const san = csr.extensions.find((e): e is x509.SubjectAlternativeNameExtension => e instanceof x509.SubjectAlternativeNameExtension);
      assert.deepEqual(san?.names.items.map((n) => n.value), ['warden2.lab.localhost', 'warden2', '127.0.0.1']);
      const signed = await x509.X509CertificateGenerator.create({
        serialNumber: '1234abcd',
        subject: csr.subject,
        issuer: inter.cert.subject,
        notBefore: new Date(Date.now() - DAY),
        notAfter: new Date(Date.now() + 90 * DAY),
        publicKey: csr.publicKey,
        signingKey: inter.keys.privateKey,
        signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
        extensions: [san!, new x509.ExtendedKeyUsageExtension([EKU_SERVER_AUTH])],
      });
      const pendingKey = readFileSync(pending);
      // A certificate for another key is not paired with the waiting one.
      const stranger = await issueLeaf(inter, { commonName: 'stranger', eku: [EKU_SERVER_AUTH] });
      await refused(['cert', 'web', 'install', '--cert', file('stranger.pem', stranger.pem)], /the key waiting from "orbit cert web csr" does not match the certificate/);
      const done = await ok(['cert', 'web', 'install', '--cert', file('signed.pem', signed.toString('pem')), '--chain', file('inter.pem', inter.pem)]);
      assert.match(done.stdout, /installed the web certificate \(with the key from the CSR\)/);
      assert.deepEqual(readFileSync(key()), pendingKey);
      assert.equal(existsSync(pending), false, 'the waiting key became the live key');
      assert.match((await ok(['cert', 'web', 'show'])).stdout, /^names: +DNS:warden2\.lab\.localhost, DNS:warden2, IP:127\.0\.0\.1$/m);
    });

    test('csr: a common name with a space is refused and no key is left waiting', async () => {
      await refused(['cert', 'web', 'csr', '--cn', 'my warden'], /common name "my warden" contains a space/);
      await refused(['cert', 'web', 'csr', '--cn', 'w.localhost', '--key-type', 'dsa'], /argument 'dsa' is invalid/, 2);
    });
  });

  test('cert ssh show prints the proxy host key fingerprint as ssh-keygen -l does', async () => {
    const keyFile = path.join(home, 'ssh', 'terminal-proxy_ed25519_key');
    const none = await orbit(['cert', 'ssh', 'show']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /the terminal proxy has no host key yet at .*terminal-proxy_ed25519_key: it makes one at its first start/);
    // The key as the proxy makes it at its first start.
    loadOrCreateHostKey(keyFile);
    const r = await ok(['cert', 'ssh', 'show']);
    assert.equal(r.stdout, execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', keyFile], { encoding: 'utf8' }));
    const json = JSON.parse((await ok(['cert', 'ssh', 'show', '--json'])).stdout);
    assert.equal(json.hostKeys[0].algorithm, 'ssh-ed25519');
    assert.match(json.hostKeys[0].fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  test('services: an unknown name is refused; --root does not apply; without systemd as PID 1 the refusal says so', async () => {
    await refused(['services', 'restart', 'sshd'], /unknown service "sshd": one of web, terminal-proxy, rdp-proxy, all/);
    await refused(['services', 'status'], /services are those of the running appliance: --root does not apply/);
    await refused(['services', 'restart'], /missing required argument 'name'/, 2);
    if (systemdHere) return;
    for (const args of [['services', 'status'], ['services', 'restart', 'web'], ['services', 'status', 'rdp-proxy']]) {
      const r = await runOrbit(home, args);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^orbit: systemd is not running on this machine \(it is not PID 1\), so the warden services cannot be managed here; on the appliance it is \(systemctl said: .*\)/);
    }
  });

  test('firewall show: the policy and the cluster peer sets as the policy file has them', async () => {
    const policy = 'table inet warden {\n  set cluster_peers4 { type ipv4_addr; elements = { 127.0.0.2 } }\n  set cluster_peers6 { type ipv6_addr; }\n}\n';
    mkdirSync(path.join(root.dir, 'etc'), { recursive: true });
    writeFileSync(path.join(root.dir, 'etc/nftables.conf'), policy);
    const r = await ok(['firewall', 'show']);
    assert.equal(r.stdout, `# policy: /etc/nftables.conf\n${policy}# cluster peers (as in the policy file)\ncluster_peers4: 127.0.0.2\ncluster_peers6: (empty)\n`);
    const j = JSON.parse((await ok(['firewall', 'show', '--json'])).stdout);
    assert.deepEqual(j.peers, { cluster_peers4: ['127.0.0.2'], cluster_peers6: [] });
    assert.equal(j.ruleset, null);
    assert.equal((await ok(['firewall', 'show', '--section', 'peers'])).stdout, '# cluster peers (as in the policy file)\ncluster_peers4: 127.0.0.2\ncluster_peers6: (empty)\n');
  });
});

describe('orbit OS settings on an initialized appliance are audited', { timeout: 300_000 }, () => {
  let home: InitializedHome;
  const root = systemRoot('warden-orbit-audited-');
  const orbit = (args: string[]) => runOrbit(home.home, ['--root', root.dir, ...args]);
  before(async () => {
    home = await initializedHome();
  });
  after(() => {
    home?.cleanup();
    root.cleanup();
  });

  async function rows(type: string) {
    const a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home, WARDEN_CONFIG: home.configFile }), { withoutKeys: true });
    try {
      return (await a.store.repos.auditEvents.query({ type, limit: 100 })).reverse();
    } finally {
      await a.close();
    }
  }

  test('each change leaves one row with orbit as the actor and what was set; a refused change leaves none', async () => {
    const cases: [string[], string, string | null, Record<string, unknown>][] = [
      [['network', 'set', '--interface', 'eth0', '--address', '127.0.0.10/8', '--gateway', '127.0.0.1'], 'system.network', 'eth0', { interface: 'eth0', ipv4: '127.0.0.10/8 via 127.0.0.1', ipv6: 'auto' }],
      [['dns', 'set', '--server', '127.0.0.53', '--search', 'corp.localhost'], 'system.dns', null, { servers: ['127.0.0.53'], search: ['corp.localhost'] }],
      [['hostname', 'set', 'audited.localhost'], 'system.hostname', 'audited.localhost', { hostname: 'audited.localhost', previous: null }],
      [['ntp', 'set', '--server', 'ntp.localhost'], 'system.ntp', null, { servers: ['ntp.localhost'] }],
      [['timezone', 'set', 'Europe/Berlin'], 'system.timezone', 'Europe/Berlin', { zone: 'Europe/Berlin', previous: null }],
    ];
    for (const [args, type, subject, detail] of cases) {
      const r = await orbit(args);
      assert.equal(r.code, 0, r.stderr);
      const got = await rows(type);
      assert.equal(got.length, 1, type);
      assert.equal(got[0]!.outcome, 'success');
      assert.match(got[0]!.actor ?? '', /^orbit:/);
      assert.equal(got[0]!.subject, subject);
      assert.deepEqual(JSON.parse(got[0]!.detail as unknown as string), detail);
    }
    const bad = await orbit(['hostname', 'set', 'bad name']);
    assert.equal(bad.code, 1);
    assert.equal((await rows('system.hostname')).length, 1, 'a refused change is not recorded');
  });

  test('a new web certificate is recorded with its fingerprint and the one it replaced; the trail still verifies', async () => {
    const before = new X509Certificate(readFileSync(path.join(home.home, 'tls', 'web.crt'))).fingerprint256;
    const r = await orbit(['cert', 'web', 'self-signed', '--host', 'audited.localhost', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const installed = JSON.parse(r.stdout).installed;
    const [row] = await rows('system.web_certificate');
    const detail = JSON.parse(row!.detail as unknown as string);
    assert.equal(detail.source, 'self-signed');
    assert.equal(detail.fingerprint, installed.fingerprint);
    assert.equal(detail.previousFingerprint, before);
    const csr = await orbit(['cert', 'web', 'csr', '--cn', 'audited.localhost']);
    assert.equal(csr.code, 0, csr.stderr);
    assert.match(csr.stdout, /^-----BEGIN CERTIFICATE REQUEST-----/);
    assert.equal((await rows('system.web_csr')).length, 1);
    const verify = await runOrbit(home.home, ['audit', 'verify']);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  });
});
