// Recordings across a cluster's nodes. A recording file stays on the node that wrote it; another node that
// must read it (a replay, an export) fetches it from that node's web daemon over the internal call (signed,
// certificate pinned) into its own recordings directory's `.remote/`, and reads it from there with the
// usual reader, which verifies the chunk chain (the file is sealed under a data key in the shared
// database: any node decrypts it; the peer is trusted for nothing but the bytes).
import { normalizeFingerprint } from './fingerprint.js';
import { createReadStream, createWriteStream, existsSync, renameSync, rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Store } from '../store/index.js';
import type { AuditTrail } from '../audit/index.js';
import { makePrivateDir, privateFileMode } from '../config/index.js';
import { AuthError, NotFoundError, WardenError, isWardenError, type ErrorCode } from '../errors/index.js';
import type { ClusterSecret } from './cluster-secret.js';
import { claimedNode, signInternalCall, verifyInternalCall } from './internal-auth.js';
import { pinnedGet } from './peer-client.js';

/** Where the web daemon serves a recording's file to peers. */
export function internalRecordingPath(id: string): string {
  return `/internal/recordings/${id}`;
}

/** The subdirectory of the recordings directory that holds copies of other nodes' recordings. */
export const REMOTE_CACHE_DIR = '.remote';

const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}\.wrec$/;
const RECORDING_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface RemoteRecordingsDeps {
  store: Store;
  audit: AuditTrail;
  secret: ClusterSecret;
  /** This node's id (config node.id). */
  nodeId: string;
  /** This node's recordings directory. */
  dir: string;
  clock?: () => number;
  /** For the connection and the response head (default 10 s). */
  timeoutMs?: number;
}

/** The recording a node is asked to read, as its row says. */
export interface RecordingLocation {
  id: string;
  file: string;
  node_id: string | null;
  status: string;
}

/** What the web route hands over from a peer's request. */
export interface InternalRecordingRequest {
  id: string;
  method: string;
  /** The request target as received. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  ip: string;
}

export interface ServedRecording {
  stream: Readable;
  bytes: number;
}

export class RemoteRecordings {
  private readonly now: () => number;

  constructor(private readonly deps: RemoteRecordingsDeps) {
    this.now = deps.clock ?? Date.now;
  }

  get nodeId(): string {
    return this.deps.nodeId;
  }

  /**
   * The web daemon serves a certificate: make it the one peers pin for this node. At start and at every
   * certificate reload; a node not (yet) in cluster_nodes has nothing to publish. Without this, a renewed
   * certificate would make every peer refuse this node as untrusted. Audited when the pin changes.
   */
  async publishOwnPin(fingerprint: string): Promise<boolean> {
    const pin = normalizeFingerprint(fingerprint);
    return this.deps.store.transaction(async (repos) => {
      const row = await repos.clusterNodes.get(this.deps.nodeId);
      if (!row || row.state !== 'active' || row.tls_fingerprint === pin) return false;
      await repos.clusterNodes.update(this.deps.nodeId, { tlsFingerprint: pin, at: this.now() });
      await this.deps.audit.record({ type: 'cluster.node_pin_updated', outcome: 'info', actor: `node:${this.deps.nodeId}`, subject: `node:${this.deps.nodeId}`, detail: { previousFingerprint: row.tls_fingerprint, fingerprint: pin } }, repos);
      return true;
    });
  }

  /**
   * A local path to the file of a recording another node holds: the cached copy of a finished recording,
   * or a fresh copy (one still being recorded is fetched again each time: it grows). Audited either way it
   * goes; a refusal is a typed error naming the node.
   */
  async localCopy(rec: RecordingLocation, actor: { username: string; ip: string | null }): Promise<string> {
    if (!FILE_NAME.test(rec.file) || !RECORDING_ID.test(rec.id)) throw new WardenError('RECORDING_UNREADABLE', 'the recording row names no valid file');
    const cacheDir = path.join(this.deps.dir, REMOTE_CACHE_DIR);
    const cached = path.join(cacheDir, rec.file);
    if (rec.status !== 'recording' && existsSync(cached)) return cached;
    const nodeId = rec.node_id ?? 'unknown';
    const fail = async (code: ErrorCode, message: string): Promise<never> => {
      await this.deps.audit.record({ type: 'recording.fetch_failed', outcome: 'failure', actor: actor.username, actorIp: actor.ip, subject: `recording:${rec.id}`, code, detail: { node: nodeId, reason: message } });
      throw new WardenError(code, message);
    };
    const node = rec.node_id === null ? undefined : await this.deps.store.repos.clusterNodes.get(rec.node_id);
    if (!node) return fail('CLUSTER_NODE_UNKNOWN', `the recording is on node ${nodeId}, which is not a node of this cluster`);
    const peer = `node ${node.name} (${node.id})`;
    if (node.state !== 'active') return fail('CLUSTER_NODE_LEFT', `the recording is on ${peer}, which has left the cluster`);
    const secret = await this.deps.secret.get();
    const target = internalRecordingPath(rec.id);
    const headers = signInternalCall(secret, { method: 'GET', path: target, timestamp: this.now(), from: this.deps.nodeId, to: node.id });
    makePrivateDir(cacheDir);
    const temp = path.join(cacheDir, `.${rec.file}.${randomBytes(6).toString('hex')}.part`);
    let bytes = 0;
    try {
      const res = await pinnedGet({ baseUrl: node.internal_url, path: target, fingerprint: node.tls_fingerprint, headers, timeoutMs: this.deps.timeoutMs ?? 10_000, peer });
      if (res.statusCode !== 200) {
        res.resume();
        if (res.statusCode === 401 || res.statusCode === 403) throw new WardenError('CLUSTER_FETCH_REFUSED', `the recording is on ${peer}, which refused this node's call (${res.statusCode}; its audit trail says why)`);
        if (res.statusCode === 404) throw new WardenError('RECORDING_UNREADABLE', `the recording is on ${peer}, which does not hold its file`);
        throw new WardenError('CLUSTER_NODE_UNREACHABLE', `the recording is on ${peer}, which answered ${res.statusCode}`);
      }
      const expected = Number(res.headers['content-length']);
      res.on('data', (c: Buffer) => (bytes += c.length));
      await pipeline(res, createWriteStream(temp, { flags: 'wx', mode: privateFileMode(cacheDir) }));
      if (Number.isFinite(expected) && bytes !== expected) throw new WardenError('CLUSTER_NODE_UNREACHABLE', `the recording is on ${peer}; the transfer stopped after ${bytes} of ${expected} bytes`);
      renameSync(temp, cached);
    } catch (e) {
      rmSync(temp, { force: true });
      if (isWardenError(e)) {
        // The peer client names the peer; the auditor is told which recording it is and where.
        const message = e.code === 'CLUSTER_NODE_UNREACHABLE' && e.message.startsWith(peer) ? `the recording is on ${peer}, unreachable: ${e.message.slice(peer.length).replace(/^ is unreachable: /, '').trim()}` : e.message;
        return fail(e.code, message);
      }
      return fail('CLUSTER_NODE_UNREACHABLE', `the recording is on ${peer}, unreachable: ${(e as Error).message}`);
    }
    await this.deps.audit.record({ type: 'recording.fetched', outcome: 'success', actor: actor.username, actorIp: actor.ip, subject: `recording:${rec.id}`, detail: { node: node.id, bytes } });
    return cached;
  }

  /**
   * Answer a peer's call for a recording this node holds: the call's signature, time and node checked,
   * then the file as it is now (a recording still being written: up to its current length). Every refusal
   * is audited with its reason and thrown as an AuthError (the caller is told only 401).
   */
  async serve(request: InternalRecordingRequest): Promise<ServedRecording> {
    const claimed = claimedNode(request.headers);
    let from: string;
    try {
      const secret = await this.deps.secret.existing();
      if (!secret) throw new AuthError('CLUSTER_SIGNATURE_INVALID', 'no cluster secret exists yet: no node can have signed this call');
      from = verifyInternalCall(secret, request, this.deps.nodeId, this.now());
      const node = await this.deps.store.repos.clusterNodes.get(from);
      if (!node) throw new AuthError('CLUSTER_NODE_UNKNOWN', `node ${from} is not a node of this cluster`);
      if (node.state !== 'active') throw new AuthError('CLUSTER_NODE_LEFT', `node ${from} has left the cluster`);
    } catch (e) {
      if (e instanceof AuthError) {
        await this.deps.audit.record({ type: 'recording.serve_refused', outcome: 'failure', actor: claimed === null ? 'unknown' : `node:${claimed}`, actorIp: request.ip, subject: `recording:${request.id}`, code: e.code, detail: { node: claimed, reason: e.message } });
      }
      throw e;
    }
    const row = await this.deps.store.repos.recordings.byId(request.id);
    if (!row || !FILE_NAME.test(row.file)) throw new NotFoundError('recording');
    let handle;
    try {
      handle = await open(path.join(this.deps.dir, row.file), 'r');
    } catch {
      // Not here: another node's, or its file is gone (its own verification says so).
      throw new NotFoundError('recording');
    }
    const bytes = (await handle.stat()).size;
    try {
      await this.deps.audit.record({ type: 'recording.served', outcome: 'success', actor: `node:${from}`, actorIp: request.ip, subject: `recording:${row.id}`, detail: { node: from, bytes } });
    } catch (e) {
      await handle.close();
      throw e;
    }
    // Up to its length now: a file still being appended to is sent as far as it was when asked.
    if (bytes === 0) {
      await handle.close();
      return { stream: Readable.from([]), bytes };
    }
    return { stream: createReadStream('', { fd: handle, start: 0, end: bytes - 1 }), bytes };
  }
}
