// Turning an empty state directory into an appliance, as `orbit init` and the first-boot wizard
// (`orbit setup`) both do: the master key cut into custodian shares on the way, and what the deployer is told.
import path from 'node:path';
import { splitMasterKey } from '../../appliance/backup/index.js';
import { initializeAppliance, type InitOptions, type InitResult } from '../../appliance/provision/index.js';
import { writePrivateFile } from '../../appliance/config/index.js';
import { CliError, EXIT_USAGE, print } from './context.js';

export interface ShareCut {
  custodians: number;
  threshold: number;
  /** Where the share files go, one per custodian (a removable medium, ideally). */
  sharesDir: string;
}

export interface Provisioned extends InitResult {
  shareFiles: string[];
  cut: ShareCut;
}

/** The share cut from flag or prompt values; a usage error for a cut that could not rebuild the key safely. */
export function shareCut(custodiansText: string | number, thresholdText: string | number, sharesDir: string): ShareCut {
  const custodians = Number(custodiansText);
  const threshold = Number(thresholdText);
  const problem = shareCutProblem(custodians, threshold);
  if (problem) throw new CliError(problem, EXIT_USAGE);
  return { custodians, threshold, sharesDir: path.resolve(sharesDir) };
}

export function shareCutProblem(custodians: number, threshold: number): string | undefined {
  if (!Number.isInteger(threshold) || threshold < 2 || !Number.isInteger(custodians) || custodians < threshold || custodians > 255) {
    return '--threshold must be at least 2 and --custodians at least the threshold (at most 255)';
  }
  return undefined;
}

/** The share file of custodian `i` (1-based). */
export function shareFile(cut: ShareCut, i: number): string {
  return path.join(cut.sharesDir, `share-${i}-of-${cut.custodians}.txt`);
}

/**
 * initializeAppliance with the master key split into shares before it goes onto the token. The share files
 * are created exclusively: an old share in the way fails the run (and initializeAppliance removes what it made).
 */
export async function provisionAppliance(options: Omit<InitOptions, 'onMasterKey'>, cut: ShareCut): Promise<Provisioned> {
  let shareFiles: string[] = [];
  const result = await initializeAppliance({
    ...options,
    onMasterKey: async (material, applianceId) => {
      const shares = await splitMasterKey(material, { custodians: cut.custodians, threshold: cut.threshold, applianceId });
      shareFiles = shares.map((text, i) => {
        const file = shareFile(cut, i + 1);
        writePrivateFile(file, text, { exclusive: true });
        return file;
      });
    },
  });
  return { ...result, shareFiles, cut };
}

/** The custodian shares: where they are and what the deployer must do with them. */
export function printShares(p: Provisioned): void {
  print(`Master key split into ${p.cut.custodians} custodian shares (any ${p.cut.threshold} rebuild it):`);
  for (const f of p.shareFiles) print(`  ${f}`);
  print('  Give each file to its custodian, then delete it here: the appliance keeps no copy of the key.');
}

/** The first administrator and its one-time password: printed once, never stored in the clear. */
export function printFirstAdministrator(p: Provisioned): void {
  print('First administrator (the password must be changed at first login):');
  print(`  user:     ${p.adminUsername}`);
  print(`  password: ${p.oneTimePassword}`);
}
