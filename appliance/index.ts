// Warden's core library: everything a daemon or orbit decides goes through here. Layers (DESIGN.md §1):
// services (auth, access, settings, provision) over mechanisms (audit, pki) over ground (store, keys, config, log, errors, i18n).
export { Appliance, type ApplianceOptions } from './appliance.js';
