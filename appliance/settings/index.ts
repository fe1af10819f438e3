// Runtime policy an administrator edits (password rules, lockout, session timeouts, IP denylist,
// default language): typed, validated, stored as one JSON row per section, changes audited.
export { SettingsService, DEFAULT_SETTINGS, validateSettingsPatch, type Settings, type PasswordRules, type SettingsPatch } from './settings-service.js';
