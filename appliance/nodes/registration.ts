import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { WardenConfig } from '../config/index.js';
import type { ClusterNodeRegistration } from '../store/index.js';
import { WardenError } from '../errors/index.js';
import { certificateFingerprint } from './fingerprint.js';

/**
 * This node's row for cluster_nodes (orbit cluster init/join registers it): its id and name from the
 * config, the pin of the web certificate it serves now, and where peers reach its web daemon (default
 * https://<web.publicHost>:<web.httpsPort>; give `internalUrl` when peers reach it by another address).
 */
export function nodeRegistration(config: Pick<WardenConfig, 'node' | 'web'>, opts: { at: number; internalUrl?: string }): ClusterNodeRegistration {
  let pem: Buffer;
  try {
    pem = readFileSync(config.web.tlsCert);
  } catch (e) {
    throw new WardenError('CONFIG_INVALID', `the web certificate cannot be read: ${(e as Error).message}`);
  }
  const host = isIP(config.web.publicHost) === 6 ? `[${config.web.publicHost}]` : config.web.publicHost;
  const internalUrl = opts.internalUrl ?? `https://${host}:${config.web.httpsPort}`;
  let url: URL;
  try {
    url = new URL(internalUrl);
  } catch {
    throw new WardenError('INPUT_INVALID', `${internalUrl} is not a URL`);
  }
  if (url.protocol !== 'https:' || url.pathname !== '/' || url.search || url.username || internalUrl.length > 255) {
    throw new WardenError('INPUT_INVALID', `the internal URL must be https://host:port (got ${internalUrl})`);
  }
  return { id: config.node.id, name: config.node.name, internalUrl: url.origin, tlsFingerprint: certificateFingerprint(pem), at: opts.at };
}
