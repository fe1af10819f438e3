// A proxy's process, as far as live control sees one: it opens the appliance, admits one session, reports
// its bytes, and waits. It prints "admitted ID", then "ended REASON" when an end request reaches it.
// Usage: node live-session-child.js WARDEN_HOME USER_ID DEVICE_ID CREDENTIAL_ID HOST_LEASE_MS
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';

const [home, userId, deviceId, credentialId, leaseMs] = process.argv.slice(2);
const a = await Appliance.open(loadConfig({ ...process.env, WARDEN_HOME: home!, WARDEN_CONFIG: `${home}/warden.json` }), {
  feedPollMs: 100,
  sessionLiveness: { progressMs: 100, hostLeaseMs: Number(leaseMs ?? 15_000) },
});
const r = await a.sessions.open({ userId: Number(userId), deviceId: Number(deviceId), credentialId: Number(credentialId), protocol: 'ssh', source: '127.0.0.66' });
if (!r.admitted) {
  process.stdout.write(`refused ${JSON.stringify(r.refusal)}\n`);
  await a.close();
  process.exit(1);
}
const session = r.session;
const keepAlive = setInterval(() => undefined, 60_000);
session.onEndRequested((reason) => {
  process.stdout.write(`ended ${reason}\n`);
  void session
    .close({ reason: 'ended-by-admin', bytesIn: 4321, bytesOut: 98_765 })
    .finally(() => a.close())
    .finally(() => clearInterval(keepAlive));
});
session.progress(4321, 98_765);
process.stdout.write(`admitted ${session.id}\n`);
