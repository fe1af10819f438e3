// Another process on the same appliance, as an administrator's web request would be: it opens the appliance
// and asks for a proxied session to end. Usage: node end-session-child.js WARDEN_HOME SESSION_ID.
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';

const a = await Appliance.open(loadConfig({ ...process.env, WARDEN_HOME: process.argv[2]!, WARDEN_CONFIG: `${process.argv[2]}/warden.json` }));
try {
  await a.sessions.requestEnd({ username: 'admin', ip: '127.0.0.1', profile: 'administrator' }, process.argv[3]!, 'ended from another process');
  process.stdout.write('requested\n');
} finally {
  await a.close();
}
