// Open a token in a process of its own (the PKCS#11 module is one per process), for tests of KeyService.open.
// Usage: node token-open-child.js SOFTHSM_CONF LABEL PIN [MARKER]. Prints "opened MS" or "failed CODE MS" (ms
// taken); MARKER, if given, is a file made just before the open begins.
import { writeFileSync } from 'node:fs';
import { KeyService, SOFTHSM_MODULE } from '../../appliance/keys/index.js';

if (process.argv[5]) writeFileSync(process.argv[5], '');
const started = Date.now();
try {
  const keys = KeyService.open({ module: SOFTHSM_MODULE, softhsmConf: process.argv[2]!, tokenLabel: process.argv[3]!, pin: process.argv[4]! });
  keys.close();
  process.stdout.write(`opened ${Date.now() - started}\n`);
} catch (e) {
  process.stdout.write(`failed ${(e as { code?: string }).code ?? (e as Error).message} ${Date.now() - started}\n`);
}
