// A SoftHSM2 token with a master key, for tests of mechanisms that wrap data keys (no database needed).
import path from 'node:path';
import { KeyService, initSoftHsmToken, writeSoftHsmConfig, SOFTHSM_MODULE, generateMasterKeyMaterial, type KeyServiceOptions } from '../../appliance/keys/index.js';
import { tempDir } from './fixtures.js';

export interface TestToken {
  keys: KeyService;
  /** How another process opens the same token. */
  options: KeyServiceOptions;
  dir: string;
  cleanup: () => void;
}

export function testToken(): TestToken {
  const tmp = tempDir('warden-token-');
  const conf = path.join(tmp.dir, 'softhsm2.conf');
  writeSoftHsmConfig(conf, path.join(tmp.dir, 'tokens'));
  initSoftHsmToken({ module: SOFTHSM_MODULE, softhsmConf: conf, label: 'warden-test', soPin: 'so-pin-test', userPin: 'user-pin-test' });
  const options: KeyServiceOptions = { module: SOFTHSM_MODULE, tokenLabel: 'warden-test', pin: 'user-pin-test', softhsmConf: conf };
  const keys = KeyService.open(options);
  const material = generateMasterKeyMaterial();
  keys.importMasterKey(material);
  material.fill(0);
  return {
    keys,
    options,
    dir: tmp.dir,
    cleanup: () => {
      keys.close();
      tmp.cleanup();
    },
  };
}
