// Provisioning: what `orbit init` (and the first `make run`) does to turn an empty state directory into an
// appliance — config, token and master key, web TLS certificate, database, first administrator.
export { initializeAppliance, isInitialized, type InitOptions, type InitResult } from './initialize.js';
