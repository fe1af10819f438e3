// The OS settings of the appliance image: network (systemd-networkd), DNS (resolved), host name, NTP
// (timesyncd), time zone, the warden units and the firewall — written under a root, reloaded when live.
export { systemTarget, type SystemTarget, type ChangeOptions, type ApplyWith } from './target.js';
export { showNetwork, setNetwork, plannedNetwork, validateNetwork, renderNetwork, parseNetwork, describeFamily, networkFile, type AddressSpec, type NetworkSpec } from './network.js';
export { showDns, setDns, validateDns, DNS_FILE, type DnsSettings } from './dns.js';
export { showHostname, setHostname, validateHostname } from './hostname.js';
export { showNtp, setNtp, validateNtp, NTP_FILE, type NtpSettings } from './ntp.js';
export { showTimezone, setTimezone } from './timezone.js';
export { validateZone, validateCidr, validateAddress, validateInterface, validateDnsName, validateIp } from './validate.js';
export { serviceStatus, restartServices, serviceNames, WARDEN_UNITS, WARDEN_SERVICE_NAMES, type ServiceStatus, type WardenServiceName } from './services.js';
export { showFirewall, setElementsInText, setClusterPeers, withSetElements, NFTABLES_FILE, PEER_SETS, type FirewallView, type PeerSet } from './firewall.js';
