// Another process on the same appliance, as a second RDP proxy would be: it opens the appliance, says
// "ready", and at the line "TICKET SOURCE COUNT" on stdin redeems that ticket COUNT times at once, printing the
// outcomes as one JSON line. Usage: node rdp-ticket-redeem-child.js WARDEN_HOME.
import { createInterface } from 'node:readline';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';

const a = await Appliance.open(loadConfig({ ...process.env, WARDEN_HOME: process.argv[2]!, WARDEN_CONFIG: `${process.argv[2]}/warden.json` }));
try {
  process.stdout.write('ready\n');
  const lines = createInterface({ input: process.stdin });
  const [line] = await Promise.all([new Promise<string>((resolve) => lines.once('line', resolve))]);
  lines.close();
  const [ticket, source, count] = line.split(' ');
  const results = await Promise.all(Array.from({ length: Number(count) }, () => a.rdpTickets.redeem(ticket!, source!)));
  process.stdout.write(`${JSON.stringify(results.map((r) => (r.redeemed ? 'redeemed' : r.refusal)))}\n`);
} finally {
  await a.close();
}
