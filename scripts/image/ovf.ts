// The OVF descriptor of the appliance's OVA (DMTF OVF 1.0, DSP0243): one virtual system, 2 CPUs, 2 GiB, one
// streamOptimized VMDK on an LSI Logic SCSI controller, one network card; what VirtualBox and VMware import.
// make-image.sh runs it as `node dist/scripts/image/ovf.js --vmdk FILE --href NAME [--name N] [--cpus N] [--memory MiB]`
// and writes its standard output to the .ovf next to the disk.
import { openSync, readSync, closeSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface OvfInput {
  /** The virtual system's name and id. */
  name: string;
  /** The VMDK's file name inside the OVA (the href the descriptor references). */
  href: string;
  /** The VMDK file's size in bytes (ovf:size of the File). */
  fileSize: number;
  /** The disk's virtual size in bytes (ovf:capacity of the Disk). */
  capacity: number;
  cpus: number;
  memoryMiB: number;
}

/** The capacity, in bytes, a sparse VMDK (monolithicSparse or streamOptimized) declares in its header. */
export function vmdkCapacity(file: string): number {
  const fd = openSync(file, 'r');
  try {
    const header = Buffer.alloc(512);
    if (readSync(fd, header, 0, 512, 0) < 512) throw new Error(`${file}: too short to be a VMDK`);
    // SparseExtentHeader (VMware's "Virtual Disk Format 1.1"): magic "KDMV", then version, flags, and the
    // capacity in 512-byte sectors as a little-endian 64-bit number at offset 12.
    if (header.toString('latin1', 0, 4) !== 'KDMV') throw new Error(`${file}: not a sparse VMDK (no KDMV magic)`);
    const sectors = header.readBigUInt64LE(12);
    return Number(sectors * 512n);
  } finally {
    closeSync(fd);
  }
}

const xmlEscape = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

/** One rasd Item; the CIM schema is a sequence in alphabetical order, and VMware's importer holds to it. */
function item(fields: Record<string, string | number>): string {
  const lines = Object.keys(fields)
    .sort()
    .map((k) => `        <rasd:${k}>${xmlEscape(String(fields[k]))}</rasd:${k}>`);
  return ['      <Item>', ...lines, '      </Item>'].join('\n');
}

export function ovfDescriptor(o: OvfInput): string {
  for (const [k, v] of Object.entries({ fileSize: o.fileSize, capacity: o.capacity, cpus: o.cpus, memoryMiB: o.memoryMiB })) {
    if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`ovf: ${k} must be a positive integer, got ${v}`);
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(o.href)) throw new Error(`ovf: unusable disk file name ${JSON.stringify(o.href)}`);
  const name = xmlEscape(o.name);
  // InstanceIDs tie the disk to its controller (Parent); the numbers mean nothing else.
  const hardware = [
    item({ AllocationUnits: 'hertz * 10^6', Description: 'Number of virtual CPUs', ElementName: `${o.cpus} virtual CPUs`, InstanceID: 1, ResourceType: 3, VirtualQuantity: o.cpus }),
    item({ AllocationUnits: 'byte * 2^20', Description: 'Memory size', ElementName: `${o.memoryMiB} MB of memory`, InstanceID: 2, ResourceType: 4, VirtualQuantity: o.memoryMiB }),
    item({ Address: 0, Description: 'SCSI controller', ElementName: 'SCSI controller 0', InstanceID: 3, ResourceSubType: 'lsilogic', ResourceType: 6 }),
    item({ AddressOnParent: 0, ElementName: 'Hard disk 1', HostResource: 'ovf:/disk/vmdisk1', InstanceID: 4, Parent: 3, ResourceType: 17 }),
    item({ AddressOnParent: 1, AutomaticAllocation: 'true', Connection: 'VM Network', Description: 'E1000 ethernet adapter', ElementName: 'Network adapter 1', InstanceID: 5, ResourceSubType: 'E1000', ResourceType: 10 }),
  ].join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<Envelope ovf:version="1.0" xml:lang="en-US" xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <References>
    <File ovf:href="${o.href}" ovf:id="file1" ovf:size="${o.fileSize}"/>
  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
    <Disk ovf:capacity="${o.capacity}" ovf:capacityAllocationUnits="byte" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
  </DiskSection>
  <NetworkSection>
    <Info>The list of logical networks</Info>
    <Network ovf:name="VM Network">
      <Description>The network the appliance serves on</Description>
    </Network>
  </NetworkSection>
  <VirtualSystem ovf:id="${name}">
    <Info>The Warden appliance</Info>
    <Name>${name}</Name>
    <OperatingSystemSection ovf:id="96">
      <Info>The kind of installed guest operating system</Info>
      <Description>Debian GNU/Linux 12 (64-bit)</Description>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>${name}</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>vmx-10</vssd:VirtualSystemType>
      </System>
${hardware}
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
`;
}

function main(argv: string[]): void {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i]!;
    const v = argv[i + 1];
    if (!k.startsWith('--') || v === undefined) {
      process.stderr.write('usage: ovf.js --vmdk FILE --href NAME [--name warden] [--cpus 2] [--memory 2048]\n');
      process.exit(2);
    }
    args.set(k.slice(2), v);
  }
  const vmdk = args.get('vmdk');
  if (!vmdk) {
    process.stderr.write('ovf.js: --vmdk is required\n');
    process.exit(2);
  }
  process.stdout.write(
    ovfDescriptor({
      name: args.get('name') ?? 'warden',
      href: args.get('href') ?? path.basename(vmdk),
      fileSize: statSync(vmdk).size,
      capacity: vmdkCapacity(vmdk),
      cpus: Number(args.get('cpus') ?? 2),
      memoryMiB: Number(args.get('memory') ?? 2048),
    }),
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`ovf.js: ${(e as Error).message}\n`);
    process.exit(1);
  }
}
