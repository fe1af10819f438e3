// Cluster operations: this appliance's MariaDB Galera node (its configuration, its server, its state) and
// the pieces of the join ceremony. The store itself speaks to the database through appliance/store.
export { galeraConfig, applianceLayout, layoutUnder, tlsFiles, parseEndpoint, endpointText, STANDARD_PORTS, GALERA_PROVIDER, type GaleraNodeConfig, type NodeLayout, type NodePorts, type Endpoint } from './galera-config.js';
export { systemdControl, processControl, serverPid, type ServerControl, type StartOptions } from './server-control.js';
export { adminQuery, createSstUser, createAppDatabase, dropUser, generatePassword, type AdminConnection } from './admin.js';
export { readStatus, parseStatus, isServing, waitUntilServing, type GaleraStatus } from './status.js';
export { parseGrastate, readGrastate, grastatePath, markSafeToBootstrap, parseRecoveredPosition, recoverPosition, nodePosition, chooseBootstrapNode, type GrastateFile, type NodePosition } from './bootstrap.js';
export { createClusterTls, installClusterTls, type ClusterTls } from './tls.js';
export { writePrivateFile } from './files.js';
export { sealJoinBundle, openJoinBundle, bundleHeader, readBundleFile, writeBundleFile, type JoinBundle } from './bundle.js';
export { readNodeState, requireNodeState, writeNodeState, retireNodeState, nodeStateFile, layoutOf, controlOf, adminOf, writeServerConfig, mergeEndpoints, serverOwner, type NodeState } from './node-state.js';
export { initializeDatadir, datadirIsFresh, createNodeToken, migrateStore, type CopyProgress } from './operations.js';
