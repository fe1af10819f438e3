// The image build's fast parts, without booting anything: the Packer template is one Debian's packer 1.6.6
// accepts (and the same check refuses broken copies of it), and the OVA's OVF descriptor is well-formed XML whose
// references hold together and whose disk capacity is the VMDK's own. The whole build (`make image`) boots a VM
// under TCG for minutes and is not part of `make test`.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ovfDescriptor, vmdkCapacity } from '../../scripts/image/ovf.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const template = path.join(root, 'packer', 'warden.pkr.hcl');
const ovfCli = path.join(root, 'dist', 'scripts', 'image', 'ovf.js');

function run(cmd: string, args: string[], opts: { cwd?: string; input?: string } = {}) {
  // CHECKPOINT_DISABLE: packer would otherwise ask checkpoint.hashicorp.com whether it is up to date.
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd, input: opts.input, env: { ...process.env, CHECKPOINT_DISABLE: '1' } });
  if (r.error) throw r.error; // not installed: a failure, never a silent pass
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('packer/warden.pkr.hcl', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), 'warden-packer-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const validate = (file: string) => run('packer', ['validate', file], { cwd: dir });
  const text = () => readFileSync(template, 'utf8');

  test('packer validate accepts the template', () => {
    const r = validate(template);
    assert.equal(r.status, 0, r.out);
  });

  test('the same check refuses a copy with a misspelt option, a bad value, or a required_plugins block', () => {
    const variants: Array<[string, string, RegExp]> = [
      ['misspelt.pkr.hcl', text().replace(/^(\s*)accelerator(\s*)=/m, '$1accelerater$2='), /"accelerater" is not expected/],
      ['bad-value.pkr.hcl', text().replace(/communicator(\s*)= "none"/, 'communicator$1= "telepathy"'), /Communicator type telepathy is invalid/],
      // What a newer packer's template starts with, and 1.6.6 does not know: the reason the template has none.
      ['plugins.pkr.hcl', `packer {\n  required_plugins {\n    qemu = { version = ">= 1.0.0", source = "github.com/hashicorp/qemu" }\n  }\n}\n${text()}`, /required_plugins/],
    ];
    for (const [name, body, why] of variants) {
      assert.notEqual(body, text(), `${name}: the edit did not apply`);
      const file = path.join(dir, name);
      writeFileSync(file, body);
      const r = validate(file);
      assert.notEqual(r.status, 0, `${name} was accepted`);
      assert.match(r.out, why);
    }
  });

  test('it boots the prepared disk under TCG without a communicator, qcow2 out, the serial console to a file', () => {
    const t = text();
    for (const re of [
      /^\s*disk_image\s*= true$/m,
      /^\s*iso_url\s*= "file:\/\/\$\{var\.source_disk\}"$/m,
      /^\s*iso_checksum\s*= "none"$/m,
      /^\s*accelerator\s*= "tcg"$/m,
      /^\s*format\s*= "qcow2"$/m,
      /^\s*communicator\s*= "none"$/m,
      /^\s*skip_resize_disk\s*= true$/m,
      /\["-serial", "file:\$\{var\.serial_log\}"\]/,
      // The build VM's network reaches nothing outside it.
      /\["-netdev", "user,id=user\.0,restrict=on"\]/,
    ]) assert.match(t, re);
  });
});

/** What python's XML parser (expat) finds in a descriptor: it refuses anything that is not well-formed. */
function parseOvf(xml: string): any {
  const script = `
import json, sys, xml.etree.ElementTree as ET
NS = {'o': 'http://schemas.dmtf.org/ovf/envelope/1',
      'rasd': 'http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData'}
O = '{%s}' % NS['o']
RASD = '{%s}' % NS['rasd']
env = ET.fromstring(sys.stdin.read())
items = []
for it in env.findall('o:VirtualSystem/o:VirtualHardwareSection/o:Item', NS):
    items.append({'order': [c.tag[len(RASD):] for c in it], **{c.tag[len(RASD):]: c.text for c in it}})
print(json.dumps({
  'root': env.tag, 'version': env.get(O + 'version'),
  'files': [{k[len(O):]: v for k, v in f.attrib.items()} for f in env.findall('o:References/o:File', NS)],
  'disks': [{k[len(O):]: v for k, v in d.attrib.items()} for d in env.findall('o:DiskSection/o:Disk', NS)],
  'networks': [n.get(O + 'name') for n in env.findall('o:NetworkSection/o:Network', NS)],
  'system': env.find('o:VirtualSystem', NS).get(O + 'id'),
  'infos': len(env.findall('.//o:Info', NS)),
  'items': items,
}))
`;
  const r = spawnSync('python3', ['-c', script], { input: xml, encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`not well-formed: ${r.stderr.trim().split('\n').pop()}`);
  return JSON.parse(r.stdout);
}

describe('the OVF descriptor of the OVA', () => {
  let dir: string;
  let vmdk: string;
  let raw: string;
  // An odd size (97 MiB), so a capacity taken from anywhere but the VMDK would not match by chance.
  const virtualSize = 97 * 1024 * 1024;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'warden-ovf-'));
    raw = path.join(dir, 'disk.raw');
    vmdk = path.join(dir, 'disk.vmdk');
    writeFileSync(raw, Buffer.alloc(0));
    assert.equal(run('qemu-img', ['resize', '-f', 'raw', raw, String(virtualSize)]).status, 0);
    writeFileSync(raw, Buffer.from('some data, so the VMDK is not all grains of zeros'), { flag: 'r+' });
    const r = run('qemu-img', ['convert', '-O', 'vmdk', '-o', 'subformat=streamOptimized,adapter_type=lsilogic', raw, vmdk]);
    assert.equal(r.status, 0, r.out);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("the capacity read from the VMDK's header is the virtual size qemu-img reports", () => {
    const info = JSON.parse(run('qemu-img', ['info', '--output=json', vmdk]).out);
    assert.equal(info['virtual-size'], virtualSize);
    assert.equal(vmdkCapacity(vmdk), virtualSize);
  });

  test('a file that is not a sparse VMDK is refused', () => {
    assert.throws(() => vmdkCapacity(raw), /not a sparse VMDK/);
  });

  test('the descriptor make-image.sh writes is well-formed, its references match and its capacity is the VMDK\'s', () => {
    const r = run('node', [ovfCli, '--vmdk', vmdk, '--href', 'warden-disk1.vmdk', '--name', 'warden', '--cpus', '2', '--memory', '2048']);
    assert.equal(r.status, 0, r.out);
    const ovf = parseOvf(r.out);
    assert.equal(ovf.root, '{http://schemas.dmtf.org/ovf/envelope/1}Envelope');
    assert.equal(ovf.version, '1.0');
    assert.equal(ovf.system, 'warden');
    // The one file is the VMDK, by the name it has in the OVA and with its size in bytes.
    assert.equal(ovf.files.length, 1);
    const [file] = ovf.files;
    assert.equal(file.href, 'warden-disk1.vmdk');
    assert.equal(Number(file.size), statSync(vmdk).size);
    // The one disk refers to that file and has the VMDK's virtual size.
    assert.equal(ovf.disks.length, 1);
    const [disk] = ovf.disks;
    assert.equal(disk.fileRef, file.id);
    assert.equal(Number(disk.capacity), virtualSize);
    assert.equal(disk.capacityAllocationUnits ?? 'byte', 'byte');
    assert.match(disk.format, /vmdk\.html#streamOptimized$/);
    // The hardware: 2 CPUs, 2 GiB, the disk on a controller that exists, a card on a network that is declared.
    const byType = (t: number) => ovf.items.filter((i: any) => Number(i.ResourceType) === t);
    assert.equal(Number(byType(3)[0].VirtualQuantity), 2);
    assert.equal(Number(byType(4)[0].VirtualQuantity), 2048);
    assert.equal(byType(4)[0].AllocationUnits, 'byte * 2^20');
    const [hd] = byType(17);
    assert.equal(hd.HostResource, `ovf:/disk/${disk.diskId}`);
    const controller = ovf.items.find((i: any) => i.InstanceID === hd.Parent);
    assert.ok(controller, `the disk's controller ${hd.Parent} is not in the descriptor`);
    assert.equal(Number(controller.ResourceType), 6);
    assert.equal(controller.ResourceSubType, 'lsilogic');
    assert.ok(ovf.networks.includes(byType(10)[0].Connection));
    // Every InstanceID once; every Item's fields in the CIM schema's (alphabetical) order.
    const ids = ovf.items.map((i: any) => i.InstanceID);
    assert.equal(new Set(ids).size, ids.length);
    for (const i of ovf.items) assert.deepEqual(i.order, [...i.order].sort(), `Item ${i.InstanceID}`);
    // Each section has its Info (OVF requires one): DiskSection, NetworkSection, VirtualSystem, OS, hardware.
    assert.equal(ovf.infos, 5);
  });

  test('the same check refuses a descriptor that is not well-formed', () => {
    const good = ovfDescriptor({ name: 'warden', href: 'd.vmdk', fileSize: 1, capacity: 512, cpus: 2, memoryMiB: 2048 });
    assert.equal(parseOvf(good).disks.length, 1);
    assert.throws(() => parseOvf(good.replace('</DiskSection>', '')), /not well-formed/);
    assert.throws(() => parseOvf(good.replace('ovf:capacity="512"', 'ovf:capacity=512')), /not well-formed/);
  });

  test('a name that would break the XML is escaped; an unusable file name or size is refused', () => {
    const xml = ovfDescriptor({ name: 'a<b & "c"', href: 'd.vmdk', fileSize: 1, capacity: 512, cpus: 2, memoryMiB: 2048 });
    assert.equal(parseOvf(xml).system, 'a<b & "c"');
    assert.throws(() => ovfDescriptor({ name: 'w', href: 'my disk.vmdk', fileSize: 1, capacity: 512, cpus: 2, memoryMiB: 2048 }), /file name/);
    assert.throws(() => ovfDescriptor({ name: 'w', href: 'd.vmdk', fileSize: 1, capacity: 0, cpus: 2, memoryMiB: 2048 }), /capacity/);
  });

  test('the command line tool answers a usage error with exit status 2', () => {
    assert.equal(run('node', [ovfCli, '--vmdk']).status, 2);
    assert.equal(run('node', [ovfCli]).status, 2);
    assert.equal(run('node', [ovfCli, '--vmdk', raw]).status, 1);
  });
});
