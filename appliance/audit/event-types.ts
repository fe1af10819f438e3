// The catalogue of audit events: every type the trail may hold, declared once with a stable code, a severity
// and the fields of its detail. The SIEM export and reports key on the code and severity; the compiler checks
// every `record(...)` against the detail declared here, and the trail refuses a type that is not declared.

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** The shape of one detail field: a JSON kind, `|null` when it may be null, a trailing `?` when it may be absent. */
type FieldBase = 'string' | 'number' | 'boolean' | 'object' | 'string[]' | 'object[]';
export type FieldKind = FieldBase | `${FieldBase}|null` | `${FieldBase}?` | `${FieldBase}|null?`;

export interface EventTypeSpec {
  /**
   * Stable for ever once released: reports and SIEM rules filter on it. Never renumber or reuse one; a new
   * type takes the next free number of its block (1xxx auth, 2xxx sessions, 3xxx access, 4xxx devices and
   * credentials, 5xxx vault, 6xxx PKI, 7xxx users, 8xxx settings, 9xxx appliance, keys, backup).
   */
  code: `W${number}`;
  severity: Severity;
  /** Where a failed attempt weighs differently from a success (a refused break-glass, a failed login). */
  failureSeverity?: Severity;
  description: string;
  detail: Readonly<Record<string, FieldKind>>;
}

// Severity says how soon a person should look: info (routine), low (worth a report), medium (a change of who
// may do what, a secret shown), high (trust, keys, break-glass, a host key that changed), critical (reserved
// for the trail's own integrity).
const CATALOGUE = {
  'auth.login': {
    code: 'W1000',
    severity: 'info',
    failureSeverity: 'low',
    description: 'A person presented a first factor (a password, or on SSH a key) on the web, SSH or RDP, or failed to; the code says why.',
    detail: { method: 'string?', protocol: 'string?', secondFactorDue: 'string?', hashUpgraded: 'object?', reason: 'string?', source: 'string?', attempts: 'number?', fingerprint: 'string?' },
  },
  'auth.logout': { code: 'W1001', severity: 'info', description: 'A web session was ended by its user.', detail: { reason: 'string' } },
  'auth.lockout': { code: 'W1002', severity: 'medium', description: 'An account was locked after too many failed logins.', detail: { attempts: 'number', durationMinutes: 'number' } },
  'auth.throttle': {
    code: 'W1003',
    severity: 'medium',
    description: 'A source address was blocked after too many failed logins.',
    detail: { failures: 'number', windowMinutes: 'number', blockedUntil: 'string' },
  },
  'auth.unlock': { code: 'W1004', severity: 'info', description: 'An account lock expired and was lifted at the next login.', detail: { reason: 'string' } },
  'auth.mfa': {
    code: 'W1005',
    severity: 'info',
    failureSeverity: 'low',
    description: 'A second factor (certificate, TOTP, Duo) was passed or failed.',
    detail: { method: 'string', reason: 'string?', fingerprint: 'string?', protocol: 'string?', source: 'string?', attempts: 'number?' },
  },
  'auth.password_change': { code: 'W1006', severity: 'low', description: 'A user changed their own password, or the attempt failed.', detail: {} },
  'auth.totp_enrol': { code: 'W1007', severity: 'low', description: 'A user enrolled a TOTP authenticator.', detail: {} },
  'auth.proxy_login': {
    code: 'W1050',
    severity: 'info',
    failureSeverity: 'low',
    description: 'A login on a proxy (SSH) completed with all the factors the account needs, or was refused after a right factor (the code says why).',
    detail: { protocol: 'string', method: 'string', reason: 'string?', certificateFingerprint: 'string?', keyFingerprint: 'string?' },
  },

  'session.start': {
    code: 'W2000',
    severity: 'low',
    description: 'A proxied session to a device was admitted.',
    detail: {
      session: 'string',
      protocol: 'string',
      deviceId: 'number',
      credentialId: 'number',
      rule: 'string',
      groupId: 'number|null',
      grantId: 'number|null',
      emergency: 'boolean',
      reason: 'string?',
    },
  },
  'session.end': {
    code: 'W2001',
    severity: 'info',
    description: 'A session ended: a proxied session closed, or a web session expired, went idle or was replaced.',
    detail: { reason: 'string', session: 'string?', bytesIn: 'number?', bytesOut: 'number?', exitStatus: 'number|null?', count: 'number?', sessionIp: 'string|null?' },
  },
  'session.refused': { code: 'W2002', severity: 'low', description: 'A proxied session was refused; the rule says why.', detail: { protocol: 'string', refusal: 'string', rule: 'string' } },
  'session.end_requested': {
    code: 'W2003',
    severity: 'medium',
    description: 'An administrator ended a live proxied session (announced to the process that holds it).',
    detail: { session: 'string', user: 'string', reason: 'string' },
  },
  'session.interrupted': {
    code: 'W2160',
    severity: 'medium',
    description: 'A proxied session was found without a live process (it died, or stopped renewing its lease) and marked interrupted; bytes as last reported.',
    detail: { session: 'string', process: 'string|null', bytesIn: 'number', bytesOut: 'number', progressAt: 'number|null' },
  },
  'session.command_blocked': {
    code: 'W2120',
    severity: 'high',
    description: 'A command in a proxied session was blocked by a command rule before it ran (interactive line or exec).',
    detail: { session: 'string', command: 'string', exec: 'boolean', rule: 'number|null', pattern: 'string|null' },
  },
  'session.command_alert': {
    code: 'W2121',
    severity: 'medium',
    description: 'A command in a proxied session matched an alert rule; it ran.',
    detail: { session: 'string', command: 'string', exec: 'boolean', rule: 'number|null', pattern: 'string|null' },
  },

  'recording.start': { code: 'W2100', severity: 'info', description: "A proxied session's recording was started.", detail: { session: 'string', recording: 'string' } },
  'recording.end': {
    code: 'W2101',
    severity: 'info',
    failureSeverity: 'high',
    description: 'A recording ended: closed whole, or failed (the disk failed or fell behind), which ends its session.',
    detail: { session: 'string', bytes: 'number', chunks: 'number', problem: 'string?' },
  },
  'recording.view': { code: 'W2102', severity: 'low', description: 'A recording was read or exported by an auditor.', detail: { format: 'string', input: 'boolean' } },
  'recording.verify': {
    code: 'W2103',
    severity: 'info',
    failureSeverity: 'high',
    description: 'A recording was verified (its chunk chain, against its row); a failure means it was altered.',
    detail: { complete: 'boolean', chunks: 'number', problem: 'string|null' },
  },
  'session.channel_refused': {
    code: 'W2140',
    severity: 'low',
    description: 'The terminal proxy refused a channel or request: port, agent or X11 forwarding, or a per-connection limit.',
    detail: { kind: 'string', session: 'string|null', target: 'string?' },
  },
  'session.port_forward': {
    code: 'W2170',
    severity: 'medium',
    description: "The terminal proxy opened a forwarded TCP channel (ssh -L, ssh -W) to a destination through a session's target, which its access group allows; a failure: the target could not open it.",
    detail: { session: 'string', destination: 'string', origin: 'string', problem: 'string?' },
  },
  'session.agent_forward': {
    code: 'W2180',
    severity: 'medium',
    description: "The target of a session opened a channel to the user's forwarded SSH agent (ssh -A), which its access group allows; one event per channel. A failure: the user's client refused it.",
    detail: { session: 'string', problem: 'string?' },
  },
  'session.login_refused': {
    code: 'W2141',
    severity: 'low',
    description: 'A person whose password was right was still refused by a proxy (a second factor it cannot ask yet, a password to change first).',
    detail: { protocol: 'string', reason: 'string' },
  },
  'rdp_ticket.issued': {
    code: 'W2190',
    severity: 'info',
    description: 'A one-time RDP ticket (an .rdp file) was issued to a web user the access decision allows, bound to the target and the client address.',
    detail: { ticket: 'number', deviceId: 'number', credentialId: 'number', method: 'string', expiresAt: 'number', rule: 'string', reason: 'string?' },
  },
  'rdp_ticket.redeemed': {
    code: 'W2191',
    severity: 'info',
    description: 'The RDP proxy redeemed a one-time ticket (once); the session is then admitted or refused by the session decision.',
    detail: { ticket: 'number', deviceId: 'number', credentialId: 'number', method: 'string' },
  },
  'rdp_ticket.refused': {
    code: 'W2192',
    severity: 'low',
    description: 'A one-time RDP ticket was refused: at issue (the access decision or the forced-certificate gate) or at redemption (unknown, used, expired, wrong source, user disabled or locked).',
    detail: { stage: 'string', refusal: 'string', ticket: 'number|null', deviceId: 'number|null', credentialId: 'number|null', rule: 'string?', expectedSource: 'string?' },
  },

  // The OS settings of the appliance image, changed from the console (orbit); before `orbit init` there is
  // no trail yet and these are not recorded.
  'system.network': { code: 'W2200', severity: 'medium', description: "An interface's IPv4/IPv6 addressing was changed (static, DHCP, router advertisements, off).", detail: { interface: 'string', ipv4: 'string', ipv6: 'string' } },
  'system.dns': { code: 'W2201', severity: 'medium', description: 'The DNS servers and search domains were changed.', detail: { servers: 'string[]', search: 'string[]' } },
  'system.hostname': { code: 'W2202', severity: 'low', description: "The appliance's host name was changed.", detail: { hostname: 'string', previous: 'string|null' } },
  'system.ntp': { code: 'W2203', severity: 'low', description: 'The NTP servers were changed.', detail: { servers: 'string[]' } },
  'system.timezone': { code: 'W2204', severity: 'low', description: "The appliance's time zone was changed.", detail: { zone: 'string', previous: 'string|null' } },
  'system.web_certificate': {
    code: 'W2205',
    severity: 'high',
    description: 'The web TLS certificate was replaced (installed from a CA, or self-signed).',
    detail: { source: 'string', subject: 'string', sans: 'string[]', notAfter: 'string', fingerprint: 'string', previousFingerprint: 'string|null' },
  },
  'system.web_csr': { code: 'W2206', severity: 'low', description: 'A key and certificate signing request for the web certificate were made; the key waits on the appliance for the signed certificate.', detail: { subject: 'string', sans: 'string[]', keyType: 'string' } },
  'system.service_restart': { code: 'W2207', severity: 'low', description: 'Warden services were restarted from the console.', detail: { units: 'string[]' } },
  // The first-boot setup (orbit setup) and the console login on tty1.
  'system.setup': {
    code: 'W2210',
    severity: 'medium',
    description: 'The first-boot setup configured the appliance: network, DNS, host name, time zone, time servers, web certificate, console account (written before the trail existed; recorded right after it was made).',
    detail: { interface: 'string', ipv4: 'string', ipv6: 'string', dns: 'string[]', search: 'string[]', hostname: 'string', timezone: 'string', ntp: 'string[]', certificate: 'string', custodians: 'number', threshold: 'number' },
  },
  'console.login': {
    code: 'W2211',
    severity: 'info',
    failureSeverity: 'medium',
    description: 'Someone logged in to the orbit console on a local terminal (tty1, serial), or failed to; the code says why.',
    detail: { terminal: 'string', name: 'string?' },
  },

  // The cluster (MariaDB Galera) operations from the console: orbit cluster init|join|leave|bootstrap.
  'cluster.initialized': {
    code: 'W2220',
    severity: 'high',
    description: "This appliance started a Galera cluster: its store moved from SQLite to MariaDB (the rows copied and counted) and a sealed join bundle was written.",
    detail: { cluster: 'string', node: 'string', address: 'string', tables: 'number', rows: 'number' },
  },
  'cluster.joined': {
    code: 'W2221',
    severity: 'high',
    description: 'A node joined the cluster: master key from custodian shares, state transfer from a member, key check passed.',
    detail: { cluster: 'string', node: 'string', address: 'string', peer: 'string', custodians: 'number' },
  },
  'cluster.left': { code: 'W2222', severity: 'high', description: 'A node left the cluster: its database server stopped and disabled; the others go on without it.', detail: { cluster: 'string', node: 'string', address: 'string' } },
  'cluster.bootstrapped': {
    code: 'W2223',
    severity: 'high',
    description: 'After a full stop, the cluster was started again from this node (safe_to_bootstrap, or the highest seqno, or forced by the operator).',
    detail: { cluster: 'string', node: 'string', seqno: 'number', reason: 'string', forced: 'boolean' },
  },
  // Recordings across a cluster's nodes: a file stays on the node that wrote it, others fetch it (appliance/nodes).
  'recording.fetched': { code: 'W2230', severity: 'info', description: "A recording held by another cluster node was fetched from it to be read here.", detail: { node: 'string', bytes: 'number' } },
  'recording.fetch_failed': {
    code: 'W2231',
    severity: 'low',
    description: 'A recording held by another cluster node could not be fetched from it (the node is unknown, has left, is unreachable, shows another certificate, or refused); the code says why.',
    detail: { node: 'string', reason: 'string' },
  },
  'recording.served': { code: 'W2232', severity: 'info', description: 'This node sent a recording it holds to another cluster node that asked for it.', detail: { node: 'string', bytes: 'number' } },
  'recording.serve_refused': {
    code: 'W2233',
    severity: 'medium',
    description: 'A call for a recording claiming to come from a cluster node was refused (bad signature, stale timestamp, unknown node); the code says why.',
    detail: { node: 'string|null', reason: 'string' },
  },
  'cluster.node_pin_updated': {
    code: 'W2235',
    severity: 'medium',
    description: "This node's web certificate changed; the pin its peers check for it (cluster_nodes) was updated by its web daemon.",
    detail: { previousFingerprint: 'string', fingerprint: 'string' },
  },
  'cluster.peers_allowed': {
    code: 'W2236',
    severity: 'high',
    description: "An operator changed which addresses this node's firewall lets reach the cluster ports (3306, 4444, 4567, 4568) ahead of their join.",
    detail: { cluster: 'string', node: 'string', added: 'string[]', removed: 'string[]', allowed: 'string[]' },
  },
  'cluster.secret_created': { code: 'W2234', severity: 'medium', description: 'The secret cluster nodes sign their internal calls with was created (sealed under the master key).', detail: {} },

  'access.request': {
    code: 'W3000',
    severity: 'info',
    description: 'A user asked for access to a device that needs approval.',
    detail: { requestId: 'number', credentialId: 'number', purpose: 'string', groupId: 'number|null', reason: 'string' },
  },
  'access.approve': { code: 'W3001', severity: 'low', description: 'An approver approved an access request.', detail: { comment: 'string' } },
  'access.deny': { code: 'W3002', severity: 'low', description: 'An approver denied an access request.', detail: { comment: 'string' } },
  'access.emergency': {
    code: 'W3003',
    severity: 'high',
    description: 'Break-glass access without approval was taken, or refused.',
    detail: {
      requestId: 'number?',
      credentialId: 'number',
      purpose: 'string',
      reason: 'string',
      groupId: 'number|null?',
      group: 'string|null?',
      startsAt: 'number?',
      endsAt: 'number?',
      rule: 'string?',
    },
  },
  'access.grant_expired': {
    code: 'W3004',
    severity: 'info',
    description: 'An approved access grant reached its end.',
    detail: { userId: 'number', deviceId: 'number', credentialId: 'number', endsAt: 'number' },
  },
  'access_group.create': {
    code: 'W3100',
    severity: 'medium',
    description: 'An access group (who may reach which devices) was created.',
    detail: { users: 'number', devices: 'number', credentials: 'number', allowPortForwarding: 'boolean?', allowAgentForwarding: 'boolean?' },
  },
  'access_group.update': {
    code: 'W3101',
    severity: 'medium',
    description: 'An access group was changed.',
    detail: { users: 'number', devices: 'number', credentials: 'number', allowPortForwarding: 'boolean?', allowAgentForwarding: 'boolean?' },
  },
  'access_group.command_rules': {
    code: 'W3200',
    severity: 'medium',
    description: "An access group's command rules (or their mode) were replaced.",
    detail: { groupId: 'number', mode: 'string', rules: 'number', block: 'number', alert: 'number', allow: 'number' },
  },
  // W2250–W2254: the block this change was given (the 3xxx access block's next numbers belong to parallel work).
  'access_group.member_add': {
    code: 'W2250',
    severity: 'medium',
    description: 'One member (a user, an approver, a device or a credential) was added to an access group.',
    detail: { groupId: 'number', kind: 'string', memberId: 'number', changed: 'boolean?' },
  },
  'access_group.member_remove': {
    code: 'W2251',
    severity: 'medium',
    description: 'One member (a user, an approver, a device or a credential) was removed from an access group.',
    detail: { groupId: 'number', kind: 'string', memberId: 'number', changed: 'boolean?' },
  },

  'device.create': { code: 'W4000', severity: 'low', description: 'A device was added (by hand or by import).', detail: { id: 'number?', import: 'boolean?', row: 'number?' } },
  'device.update': { code: 'W4001', severity: 'low', description: 'A device was changed (by hand or by an import that updates).', detail: { id: 'number', import: 'boolean?', row: 'number?' } },
  'device.enable': { code: 'W4002', severity: 'low', description: 'A device was enabled.', detail: {} },
  'device.disable': { code: 'W4003', severity: 'low', description: 'A device was disabled.', detail: {} },
  'device.import': { code: 'W4004', severity: 'low', description: 'A device import finished; failure when some rows were refused.', detail: { imported: 'number', failed: 'number' } },
  'device.host_key_pinned': { code: 'W4005', severity: 'info', description: "A device's host key was seen first and pinned.", detail: { protocol: 'string', fingerprint: 'string' } },
  'device.host_key_mismatch': {
    code: 'W4006',
    severity: 'high',
    description: 'A device presented a host key other than the pinned one (a possible interception).',
    detail: { protocol: 'string', expected: 'string', presented: 'string' },
  },
  'device.host_key_reset': { code: 'W4007', severity: 'medium', description: "A device's pinned host key was forgotten by an administrator.", detail: { protocol: 'string' } },
  'device.connectivity_alert': {
    code: 'W4008',
    severity: 'low',
    description: 'A connectivity test could not reach a device port.',
    detail: { protocol: 'string', port: 'number', address: 'string', reason: 'string|null' },
  },
  // W2240–W2244: the console's devices page (a block given to it; 4xxx was taken in parallel).
  'device.connectivity_check': {
    code: 'W2240',
    severity: 'info',
    failureSeverity: 'low',
    description: "A person asked for a device's connectivity test now; failure when a port did not answer.",
    detail: { id: 'number', ports: 'number', failing: 'number' },
  },
  'credential.create': { code: 'W4100', severity: 'low', description: 'A device credential was stored.', detail: {} },
  'credential.update': { code: 'W4101', severity: 'low', description: 'A device credential was changed.', detail: { valueChanged: 'boolean' } },
  'credential.enable': { code: 'W4102', severity: 'low', description: 'A device credential was enabled.', detail: {} },
  'credential.disable': { code: 'W4103', severity: 'low', description: 'A device credential was disabled.', detail: {} },
  'credential.rotate': {
    code: 'W4104',
    severity: 'medium',
    description: 'A credential rotation: committed (the new password or SSH key set on the target, proved by a login, then vaulted; for a key, whether the old one was revoked) or failed (the old one stands; why).',
    detail: { trigger: 'string', executor: 'string', stage: 'string', reason: 'string?', said: 'string?', restored: 'boolean?', changeAccount: 'number?', cause: 'string?', oldKeyRevoked: 'boolean?' },
  },
  'credential.password_template': {
    code: 'W4107',
    severity: 'medium',
    description: "The shape of rotated passwords changed: a device type's template or one credential's own (set or removed).",
    detail: { scope: 'string', removed: 'boolean' },
  },
  'credential.checkout': {
    code: 'W4108',
    severity: 'medium',
    description: 'An exclusive credential was taken by a user (a session or a password view), or refused because someone else holds it (who, until when).',
    detail: { purpose: 'string', until: 'number|null', holder: 'string?', session: 'string?' },
  },
  'credential.checkin': {
    code: 'W4109',
    severity: 'low',
    description: 'An exclusive credential was given back (by its holder, by an administrator, when its session ended or its time ran out); its rotation is queued.',
    detail: { holder: 'string', how: 'string' },
  },
  'discovery.run': {
    code: 'W4110',
    severity: 'medium',
    description: "A discovery run read a device's accounts, privileges and authorized keys over SSH: how many findings are new, changed, gone; failure: why it could not read the device.",
    detail: { credential: 'number', reason: 'string?', readShadow: 'boolean?', readSudoers: 'boolean?', new: 'number?', changed: 'number?', gone: 'number?', unchanged: 'number?' },
  },
  'discovery.import': {
    code: 'W4111',
    severity: 'medium',
    description: 'A discovered account was imported into the vault as a credential (its password given, or set anew through the discovery credential).',
    detail: { finding: 'number', credential: 'number', rotate: 'boolean' },
  },
  'discovery.dismiss': {
    code: 'W4112',
    severity: 'low',
    description: 'A discovery finding was dismissed from the review list.',
    detail: { finding: 'number', kind: 'string', name: 'string' },
  },
  'credential.reconcile': {
    code: 'W4106',
    severity: 'high',
    description: "Reconciliation: the credential's change account set a new password on the target without the old one, proved by a login, then vaulted; `drift` says whether the vaulted password had stopped working (changed behind the vault's back). Failure: nothing changed in the vault; why.",
    detail: { trigger: 'string', executor: 'string', stage: 'string', changeAccount: 'number', drift: 'boolean?', reason: 'string?', said: 'string?', cause: 'string?' },
  },
  'credential.status_check': {
    code: 'W4105',
    severity: 'high',
    description: "Status control: whether a credential's vaulted password logs in on its target (an administrator's check, or the periodic one when its verdict changed).",
    detail: { state: 'string', previous: 'string', reason: 'string?' },
  },

  'vault.password_view': {
    code: 'W5000',
    severity: 'medium',
    description: 'A stored password was shown to a person (which version of it), or the view was refused.',
    detail: { rule: 'string', reason: 'string?', part: 'string?', emergency: 'boolean?', version: 'number|null?' },
  },
  'vault.protected_view': {
    code: 'W5001',
    severity: 'medium',
    description: 'A protected file was shown to a person, or the view was refused.',
    detail: { id: 'number', rule: 'string', reason: 'string', emergency: 'boolean?' },
  },
  'vault.protected_store': {
    code: 'W5002',
    severity: 'low',
    description: 'A protected file was stored.',
    detail: { kind: 'string', size: 'number', deviceId: 'number|null', groupId: 'number|null', mediaType: 'string' },
  },
  'vault.protected_owner': { code: 'W5003', severity: 'medium', description: 'A protected file was given another owner.', detail: { id: 'number', from: 'object', to: 'object' } },

  'pki.ca_install': {
    code: 'W6000',
    severity: 'high',
    description: 'Certificate authorities trusted for login were installed, or a conflicting install was refused.',
    detail: { fingerprints: 'string[]?', forced: 'boolean?', collisions: 'object[]?' },
  },
  'pki.ca_enable': { code: 'W6001', severity: 'high', description: 'A trusted certificate authority was activated.', detail: { id: 'number', fingerprint: 'string' } },
  'pki.ca_disable': { code: 'W6002', severity: 'medium', description: 'A trusted certificate authority was deactivated.', detail: { id: 'number', fingerprint: 'string' } },
  'pki.crl_install': { code: 'W6003', severity: 'low', description: 'A certificate revocation list was installed.', detail: { entries: 'number' } },
  'pki.cert_bind': { code: 'W6004', severity: 'low', description: "A client certificate was bound to a user at its first use.", detail: { fingerprint: 'string', certSubject: 'string' } },
  'pki.cert_revoke': { code: 'W6005', severity: 'medium', description: "A user's certificate binding was revoked.", detail: { bindingId: 'number', fingerprint: 'string' } },

  'user.create': { code: 'W7000', severity: 'medium', description: 'A user account was created.', detail: { profile: 'string' } },
  'user.enable': { code: 'W7001', severity: 'medium', description: 'A user account was enabled.', detail: {} },
  'user.disable': { code: 'W7002', severity: 'low', description: 'A user account was disabled.', detail: {} },
  'user.unlock': { code: 'W7003', severity: 'low', description: 'A locked user account was unlocked by an administrator.', detail: {} },
  'user.mfa_method': { code: 'W7004', severity: 'medium', description: "A user's second factor method was changed.", detail: { from: 'string', to: 'string' } },
  'user.totp_reset': { code: 'W7005', severity: 'medium', description: "A user's TOTP enrolment was forgotten.", detail: {} },
  'user.reset_password': { code: 'W7006', severity: 'medium', description: "A user's password was reset to a one-time password.", detail: {} },
  'user.ssh_key_add': {
    code: 'W7050',
    severity: 'medium',
    description: 'An SSH public key was registered for logging in to the terminal proxy.',
    detail: { keyId: 'number', algorithm: 'string', fingerprint: 'string', bits: 'number' },
  },
  'user.ssh_key_remove': { code: 'W7051', severity: 'low', description: 'A registered SSH public key was removed.', detail: { keyId: 'number', algorithm: 'string', fingerprint: 'string' } },

  'settings.change': { code: 'W8000', severity: 'medium', description: 'Appliance settings were changed.', detail: { changes: 'object' } },
  'mfa.provider_save': {
    code: 'W8001',
    severity: 'medium',
    description: 'A second-factor provider (Duo) was saved, or refused after its health check.',
    detail: { kind: 'string', apiHost: 'string', enabled: 'boolean?', reason: 'string?' },
  },

  'appliance.init': { code: 'W9000', severity: 'info', description: 'The appliance was initialized.', detail: { applianceId: 'string' } },
  'keys.rotate': {
    code: 'W9001',
    severity: 'high',
    description: 'The master key was rotated and every data key rewrapped.',
    detail: { from: 'string', rewrapped: 'number', custodians: 'number', threshold: 'number' },
  },
  'backup.create': { code: 'W9002', severity: 'medium', description: 'An encrypted backup was written.', detail: { bytes: 'number' } },
  'backup.restore': { code: 'W9003', severity: 'high', description: 'The appliance was restored from a backup.', detail: { applianceId: 'string', backupCreatedAt: 'string' } },
} as const satisfies Record<string, EventTypeSpec>;

type Catalogue = typeof CATALOGUE;
export type AuditEventType = keyof Catalogue;

type BaseType<B> = B extends 'string'
  ? string
  : B extends 'number'
    ? number
    : B extends 'boolean'
      ? boolean
      : B extends 'object'
        ? object
        : B extends 'string[]'
          ? readonly string[]
          : B extends 'object[]'
            ? readonly object[]
            : never;
type FieldType<K> = K extends `${infer B}|null?` ? BaseType<B> | null : K extends `${infer B}?` ? BaseType<B> : K extends `${infer B}|null` ? BaseType<B> | null : BaseType<K>;
type Flatten<T> = { [K in keyof T]: T[K] } & {};
type DetailOf<F> = Flatten<
  { -readonly [K in keyof F as F[K] extends `${string}?` ? never : K]: FieldType<F[K]> } & { -readonly [K in keyof F as F[K] extends `${string}?` ? K : never]?: FieldType<F[K]> }
>;

/** The detail an event of type `T` carries, as declared in the catalogue. */
export type AuditDetail<T extends AuditEventType> = DetailOf<Catalogue[T]['detail']>;

function fieldMatches(kind: FieldKind, value: unknown): boolean {
  const optional = kind.endsWith('?');
  const base = (optional ? kind.slice(0, -1) : kind) as FieldBase | `${FieldBase}|null`;
  if (value === undefined) return optional;
  if (value === null) return base.endsWith('|null');
  const isObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  switch (base.replace('|null', '') as FieldBase) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'object':
      return isObject(value);
    case 'string[]':
      return Array.isArray(value) && value.every((v) => typeof v === 'string');
    case 'object[]':
      return Array.isArray(value) && value.every(isObject);
  }
}

/**
 * The fields of `detail` that break the declaration of `type`: undeclared, missing, or of another kind. The
 * compiler checks literals; this also catches what reached a call through a spread, a variable or a cast.
 */
export function detailProblems(type: AuditEventType, detail: object | undefined): string[] {
  const declared: Readonly<Record<string, FieldKind>> = CATALOGUE[type].detail;
  const given = (detail ?? {}) as Record<string, unknown>;
  const problems: string[] = [];
  for (const k of Object.keys(given)) if (!Object.hasOwn(declared, k) && given[k] !== undefined) problems.push(`${k} is not declared`);
  for (const [k, kind] of Object.entries(declared)) if (!fieldMatches(kind, given[k])) problems.push(`${k} is not ${kind}`);
  return problems;
}

/** Whether `type` is declared: the trail refuses rows of any other type, whatever a cast let through. */
export function isAuditEventType(type: string): type is AuditEventType {
  return Object.hasOwn(CATALOGUE, type);
}

export interface EventTypeInfo {
  type: AuditEventType;
  code: string;
  severity: Severity;
  failureSeverity: Severity;
  description: string;
  detail: Readonly<Record<string, FieldKind>>;
}

function info(type: AuditEventType): EventTypeInfo {
  const s: EventTypeSpec = CATALOGUE[type];
  return { type, code: s.code, severity: s.severity, failureSeverity: s.failureSeverity ?? s.severity, description: s.description, detail: s.detail };
}

/** The whole catalogue, in code order: what a SIEM or a report is configured from. */
export function auditEventTypes(): EventTypeInfo[] {
  return (Object.keys(CATALOGUE) as AuditEventType[]).map(info).sort((a, b) => a.code.localeCompare(b.code));
}

/** One type's entry; undefined for a type this release does not know (a row written by a newer release). */
export function auditEventType(type: string): EventTypeInfo | undefined {
  return isAuditEventType(type) ? info(type) : undefined;
}

/**
 * How a stored row is classified: from its type and outcome, never from a column of its own. The type is
 * covered by the keyed chain, so nobody can lower a row's severity without breaking the chain, and old rows
 * are classified like new ones. Unknown types come out with a null code and severity, not dropped.
 */
export function classifyAuditRow(row: { type: string; outcome: string }): { eventCode: string | null; severity: Severity | null } {
  const t = auditEventType(row.type);
  if (!t) return { eventCode: null, severity: null };
  return { eventCode: t.code, severity: row.outcome === 'failure' ? t.failureSeverity : t.severity };
}
