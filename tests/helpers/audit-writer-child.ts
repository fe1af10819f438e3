// One of several processes appending to the same audit chain at once, on a real appliance home (its own
// store connection, its own session on the PKCS#11 token). Usage: node audit-writer-child.js NAME EVENTS
// (WARDEN_HOME set). Prints "ready" once open, starts on a "go" line on stdin, prints "done N" at the end.
import { once } from 'node:events';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';

const name = process.argv[2] ?? 'writer';
const events = Number(process.argv[3] ?? 300);
const a = await Appliance.open(loadConfig(process.env));
process.stdout.write('ready\n');
process.stdin.setEncoding('utf8');
let input = '';
while (!input.includes('go')) input += String((await once(process.stdin, 'data'))[0]);

let written = 0;
try {
  // Both ways an event is written: alone (its own transaction) and with the change it describes; several
  // in flight at once, so this process's writes interleave with the other process's as tightly as they can.
  const one = async (i: number): Promise<void> => {
    // A declared type (the trail refuses any other); the test tells these rows by their actor.
    const event = { type: 'auth.login', outcome: 'info', actor: name, subject: `${name}-${i}`, detail: { attempts: i } } as const;
    if (i % 2 === 0) await a.audit.record(event);
    // A read, then a write that depends on it, as services do (check, then act): a counter both processes share.
    else
      await a.audit.withChange(event, async (repos) => {
        const n = Number((await repos.meta.get('test.shared_counter')) ?? '0');
        await repos.meta.set('test.shared_counter', String(n + 1));
      });
    written++;
  };
  for (let i = 0; i < events; i += 8) await Promise.all(Array.from({ length: Math.min(8, events - i) }, (_, k) => one(i + k)));
  process.stdout.write(`done ${written}\n`);
} catch (e) {
  process.stdout.write(`failed after ${written}: ${(e as Error).message} (${String((e as { code?: unknown }).code)}; cause ${String(((e as Error).cause as { code?: unknown } | undefined)?.code)})\n`);
  process.exitCode = 1;
} finally {
  await a.close();
}
