// The layering of DESIGN.md §1, checked on the source: daemons and the CLI import appliance/, appliance/
// never imports them, daemons never import each other, and inside appliance/ lower layers never import
// higher ones.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

function imports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of src.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    const spec = m[1] ?? m[2]!;
    if (spec.startsWith('.')) out.push(path.resolve(path.dirname(file), spec));
  }
  return out;
}

const LAYER: Record<string, number> = {
  errors: 0, config: 0, log: 0, i18n: 0, store: 0, keys: 0, lifecycle: 0, jobs: 0,
  audit: 1, pki: 1, recording: 1, vault: 1, policy: 1,
  auth: 2, access: 2, sessions: 2, backup: 2, settings: 2, provision: 2,
};

function moduleOf(file: string): string | undefined {
  const rel = path.relative(path.join(root, 'appliance'), file);
  if (rel.startsWith('..')) return undefined;
  const first = rel.split(path.sep)[0]!;
  return first.endsWith('.ts') || first.endsWith('.js') ? '(root)' : first;
}

describe('architecture', () => {
  const appliance = tsFiles(path.join(root, 'appliance'));

  test('every appliance module has a known layer and an index.ts', () => {
    const modules = new Set(appliance.map(moduleOf).filter((m) => m && m !== '(root)'));
    for (const m of modules) {
      assert.ok(m! in LAYER, `appliance/${m} has no layer in this test (add it to DESIGN.md and here)`);
      assert.ok(statSync(path.join(root, 'appliance', m!, 'index.ts')).isFile(), `appliance/${m}/index.ts`);
    }
  });

  test('appliance/ never imports daemons/ or cli/', () => {
    for (const f of appliance) {
      for (const i of imports(f)) {
        assert.ok(!i.startsWith(path.join(root, 'daemons')) && !i.startsWith(path.join(root, 'cli')), `${path.relative(root, f)} imports ${path.relative(root, i)}`);
      }
    }
  });

  test('lower layers never import higher ones', () => {
    for (const f of appliance) {
      const from = moduleOf(f)!;
      if (from === '(root)') continue;
      for (const i of imports(f)) {
        const to = moduleOf(i);
        if (!to || to === from) continue;
        assert.notEqual(to, '(root)', `${path.relative(root, f)} imports the appliance root`);
        assert.ok(LAYER[to]! <= LAYER[from]!, `${path.relative(root, f)} (layer ${LAYER[from]}) imports ${to} (layer ${LAYER[to]})`);
      }
    }
  });

  test('daemons never import each other', () => {
    const daemonsDir = path.join(root, 'daemons');
    for (const d of readdirSync(daemonsDir)) {
      for (const f of tsFiles(path.join(daemonsDir, d))) {
        for (const i of imports(f)) {
          const rel = path.relative(daemonsDir, i);
          if (!rel.startsWith('..')) assert.equal(rel.split(path.sep)[0], d, `${path.relative(root, f)} imports ${path.relative(root, i)}`);
        }
      }
    }
  });
});
