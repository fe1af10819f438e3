// Network addresses as the appliance judges them: parsing IPs and CIDR ranges, the IPv4-mapped form, and the
// IP denylist matcher with its lock-out check. Pure helpers under every service that looks at an address.
export { IpDenylist, parseCidr, normalizeIp, expandIpv6, assertDenylistSafe, type ParsedCidr } from './ip-denylist.js';
export { sshLogin, sshFingerprint, SshLoginError, type SshLoginFailure, type SshLoginOptions } from './ssh-login.js';
