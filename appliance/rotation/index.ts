// Credential lifecycle: rotation of vaulted passwords on their targets, without agents (issue 14).
export { RotationService, STATUS_CHECK_CONCURRENCY, STATUS_CHECK_INTERVAL_MS, type RotationDeps, type RotationResult, type RotationTrigger, type StatusVerdict } from './rotation-service.js';
export { SshPasswdExecutor, RotationError, type PasswordExecutor, type RotationTarget, type RotationFailure } from './ssh-executor.js';
export { generatePassword, DEFAULT_TEMPLATE, type PasswordTemplate } from './password-generator.js';
