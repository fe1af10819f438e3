// Credential lifecycle: rotation of vaulted passwords on their targets, without agents (issue 14).
export { RotationService, STATUS_CHECK_CONCURRENCY, STATUS_CHECK_INTERVAL_MS, ROTATION_JOB_INTERVAL_MS, ROTATION_CONCURRENCY, type RotationDeps, type RotationResult, type ReconcileResult, type RotationTrigger, type StatusVerdict } from './rotation-service.js';
export { SshPasswdExecutor, RotationError, type PasswordExecutor, type RotationTarget, type RotationFailure, type ChangeAccount } from './ssh-executor.js';
export { generatePassword, parseTemplate, DEFAULT_TEMPLATE, type PasswordTemplate } from './password-generator.js';
export { DiscoveryService, parseDiscovery, type DiscoveryResult, type DiscoveredAccount, type DiscoveredKey, type FindingView } from './discovery.js';
