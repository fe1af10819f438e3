// Credential lifecycle: rotation of vaulted passwords on their targets, without agents (issue 14).
export { RotationService, type RotationDeps, type RotationResult, type RotationTrigger } from './rotation-service.js';
export { SshPasswdExecutor, RotationError, type PasswordExecutor, type RotationTarget, type RotationFailure } from './ssh-executor.js';
export { generatePassword, DEFAULT_TEMPLATE, type PasswordTemplate } from './password-generator.js';
