// The shape of DESIGN.md §1, checked on the source. Each rule is a pure function over an import graph, run
// on the real tree and, to show it can fail, on a small made-up graph that breaks it:
// - daemons and the CLI import appliance/; appliance/ never imports them; daemons never import each other;
// - inside appliance/, lower layers never import higher ones;
// - no import cycles (type-only imports count: a cycle of types is still a cycle of design);
// - code in appliance/, daemons/ and cli/ reaches another appliance module only through its index.ts;
// - no side-effect imports (`import 'x'`): what a file needs, it names.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tsFiles } from './helpers/source-files.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** One import of a file: a repo-relative path ("appliance/x/y.ts") or a package name. */
export interface ImportEdge {
  to: string;
  /** A package (or node: builtin), not a file of ours. */
  external: boolean;
  /** `import type` / `export type`: erased at compile time, still a dependency of the design. */
  typeOnly: boolean;
  /** `import 'x'`: run for its effects, nothing named. */
  sideEffect: boolean;
}

/** file (repo-relative, '/'-separated) → its imports. */
export type ImportGraph = Map<string, ImportEdge[]>;


/** Comments removed (strings kept), so an example in a comment is not an import. */
function withoutComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

/** The imports of one source text, `file` being its repo-relative path. */
export function parseImports(file: string, src: string): ImportEdge[] {
  const code = withoutComments(src);
  const out: ImportEdge[] = [];
  const add = (spec: string, typeOnly: boolean, sideEffect: boolean) => {
    const external = !spec.startsWith('.');
    const to = external ? spec : path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.js$/, '.ts');
    out.push({ to, external, typeOnly, sideEffect });
  };
  for (const m of code.matchAll(/(?:^|[;\n])\s*(import|export)\s+(type\s+)?([^'";]*?)\s+from\s+['"]([^'"]+)['"]/g)) {
    const clause = m[3]!;
    // `import { type A, type B } from` is as type-only as `import type { A, B } from`.
    const braces = /^\{([^}]*)\}$/.exec(clause.trim());
    const allTyped = braces !== null && braces[1]!.split(',').map((s) => s.trim()).filter(Boolean).every((s) => s.startsWith('type '));
    add(m[4]!, m[2] !== undefined || allTyped, false);
  }
  for (const m of code.matchAll(/(?:^|[;\n])\s*import\s*['"]([^'"]+)['"]/g)) add(m[1]!, false, true);
  for (const m of code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    // `await import('x');` on its own, its value dropped, is a side-effect import too.
    const alone = /(^|[;{}])\s*(await\s+)?$/.test(code.slice(0, m.index)) && /^\s*;/.test(code.slice(m.index + m[0].length));
    add(m[1]!, false, alone);
  }
  return out;
}

/** The graph of every .ts file under the given top-level folders. */
function importGraph(dirs: string[]): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const d of dirs) {
    for (const f of tsFiles(path.join(root, d))) {
      const rel = path.relative(root, f).split(path.sep).join('/');
      graph.set(rel, parseImports(rel, readFileSync(f, 'utf8')));
    }
  }
  return graph;
}

// ---- the rules: pure functions from a graph to the list of what breaks them (empty: the rule holds)

export const LAYER: Record<string, number> = {
  errors: 0, config: 0, log: 0, i18n: 0, store: 0, keys: 0, lifecycle: 0, jobs: 0, net: 0, system: 0, cluster: 0,
  audit: 1, pki: 1, recording: 1, vault: 1, commands: 1,
  auth: 2, access: 2, sessions: 2, backup: 2, settings: 2, provision: 2, nodes: 2, rotation: 2,
  // The SSH session's target side, shared by the terminal proxy and the web terminal (over sessions/).
  ssh: 3,
};

/** "auth" for appliance/auth/x.ts, "(root)" for appliance/x.ts, undefined outside appliance/. */
export function applianceModule(file: string): string | undefined {
  if (!file.startsWith('appliance/')) return undefined;
  const parts = file.split('/');
  return parts.length === 2 ? '(root)' : parts[1];
}

function internal(graph: ImportGraph): [string, ImportEdge][] {
  const out: [string, ImportEdge][] = [];
  for (const [from, edges] of graph) for (const e of edges) if (!e.external) out.push([from, e]);
  return out;
}

export function outwardImports(graph: ImportGraph): string[] {
  return internal(graph)
    .filter(([from, e]) => from.startsWith('appliance/') && (e.to.startsWith('daemons/') || e.to.startsWith('cli/')))
    .map(([from, e]) => `${from} imports ${e.to}`);
}

export function daemonCrossImports(graph: ImportGraph): string[] {
  return internal(graph)
    .filter(([from, e]) => from.startsWith('daemons/') && e.to.startsWith('daemons/') && from.split('/')[1] !== e.to.split('/')[1])
    .map(([from, e]) => `${from} imports ${e.to}`);
}

export function layerViolations(graph: ImportGraph, layer: Record<string, number>): string[] {
  const out: string[] = [];
  for (const [from, e] of internal(graph)) {
    const a = applianceModule(from);
    const b = applianceModule(e.to);
    if (!a || !b || a === b || a === '(root)') continue;
    if (b === '(root)') out.push(`${from} imports the appliance root ${e.to}`);
    else if (!(a in layer) || !(b in layer)) out.push(`${from} → ${e.to}: appliance/${a in layer ? b : a} has no layer`);
    else if (layer[b]! > layer[a]!) out.push(`${from} (layer ${layer[a]}) imports ${b} (layer ${layer[b]})`);
  }
  return out;
}

/** Every strongly connected set of files (Tarjan), as "a → b → … → a" through one of its cycles. */
export function importCycles(graph: ImportGraph): string[] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[] = [];
  let next = 0;
  const succ = (f: string) => (graph.get(f) ?? []).filter((e) => !e.external && graph.has(e.to)).map((e) => e.to);
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of succ(v)) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1 || succ(v).includes(v)) out.push(describeCycle(scc.sort()[0]!, new Set(scc), succ));
  };
  for (const f of [...graph.keys()].sort()) if (!index.has(f)) visit(f);
  return out;
}

/** One cycle through `start` inside its component, for a readable message (breadth-first: the shortest). */
function describeCycle(start: string, scc: Set<string>, succ: (f: string) => string[]): string {
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of succ(v)) {
      if (!scc.has(w)) continue;
      if (w === start) {
        const chain = [start];
        for (let u: string | undefined = v; u !== undefined && u !== start; u = prev.get(u)) chain.splice(1, 0, u);
        return [...chain, start].join(' → ');
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [...scc].join(' ↔ ');
}

/**
 * A file in appliance/, daemons/ or cli/ reaches another appliance module through its index.ts only (the
 * appliance root through appliance/index.ts), so a module's internals can move without its users noticing.
 * Tests and benchmarks may reach inside.
 */
export function indexBypasses(graph: ImportGraph): string[] {
  const out: string[] = [];
  for (const [from, e] of internal(graph)) {
    if (!/^(appliance|daemons|cli)\//.test(from)) continue;
    const target = applianceModule(e.to);
    if (!target || target === applianceModule(from)) continue;
    const face = target === '(root)' ? 'appliance/index.ts' : `appliance/${target}/index.ts`;
    if (e.to !== face) out.push(`${from} imports ${e.to} (use ${face})`);
  }
  return out;
}

/** Side-effect imports, except the packages named here with the reason they need one. */
export const SIDE_EFFECT_ALLOWED: Record<string, string> = {
  'reflect-metadata':
    '@peculiar/x509 builds on tsyringe, which reads decorator metadata through the global Reflect API this polyfill installs; it must run before @peculiar/x509 is loaded',
};

export function sideEffectImports(graph: ImportGraph, allowed: Record<string, string> = SIDE_EFFECT_ALLOWED): string[] {
  const out: string[] = [];
  for (const [from, edges] of graph) for (const e of edges) if (e.sideEffect && !(e.to in allowed)) out.push(`${from}: import '${e.to}'`);
  return out;
}

// ---- the real tree

describe('architecture', () => {
  // Tests and benchmarks are in the graph too: no cycles or side-effect imports there either (the rules that
  // are only about appliance/, daemons/ and cli/ look at the importing file's folder).
  const graph = importGraph(['appliance', 'daemons', 'cli', 'tests', 'bench']);
  const noneOf = (violations: string[]) => assert.deepEqual(violations, []);

  test('the import graph sees the tree (a parser that finds nothing would pass every rule)', () => {
    assert.ok(graph.size > 50, `${graph.size} files`);
    const server = graph.get('daemons/web/server.ts') ?? [];
    assert.ok(server.some((e) => e.to === 'appliance/errors/index.ts' && !e.typeOnly));
    assert.ok(server.some((e) => e.to === 'appliance/index.ts' && e.typeOnly));
    assert.ok(server.some((e) => e.to === 'fastify' && e.external));
    assert.ok(graph.get('appliance/pki/certificates.ts')!.some((e) => e.to === 'reflect-metadata' && e.sideEffect), 'the one allowed side-effect import is seen');
  });

  test('every appliance module has a known layer and an index.ts', () => {
    const modules = new Set([...graph.keys()].map(applianceModule).filter((m) => m && m !== '(root)'));
    for (const m of modules) {
      assert.ok(m! in LAYER, `appliance/${m} has no layer in this test (add it to DESIGN.md and here)`);
      assert.ok(graph.has(`appliance/${m}/index.ts`), `appliance/${m}/index.ts`);
    }
  });

  test('appliance/ never imports daemons/ or cli/', () => noneOf(outwardImports(graph)));
  test('lower layers never import higher ones', () => noneOf(layerViolations(graph, LAYER)));
  test('daemons never import each other', () => noneOf(daemonCrossImports(graph)));
  test('no import cycles, type-only imports included', () => noneOf(importCycles(graph)));
  test('other appliance modules are reached through their index.ts', () => noneOf(indexBypasses(graph)));
  test('no side-effect imports', () => noneOf(sideEffectImports(graph)));
});

// ---- each rule can fail: a small graph that breaks it, and the same graph mended

describe('architecture rules catch what they are meant to', () => {
  const edge = (to: string, opts: Partial<ImportEdge> = {}): ImportEdge => ({ to, external: false, typeOnly: false, sideEffect: false, ...opts });
  const graphOf = (entries: Record<string, ImportEdge[]>): ImportGraph => new Map(Object.entries(entries));

  test('the parser tells type-only, side-effect, dynamic and package imports apart, and skips comments', () => {
    const src = [
      "import type { A } from '../errors/index.js';",
      "import { type B, type C } from './b.js';",
      "import { type D, e } from './d.js';",
      "export { f } from './f.js';",
      "import 'reflect-metadata';",
      "import './polyfill.js';",
      "const g = await import('./g.js');",
      "await import('./h.js');",
      "import {\n  h,\n  i,\n} from 'node:fs';",
      "// import { x } from './in-a-comment.js';",
      "/* import './in-a-block.js'; */",
    ].join('\n');
    assert.deepEqual(parseImports('appliance/auth/x.ts', src), [
      edge('appliance/errors/index.ts', { typeOnly: true }),
      edge('appliance/auth/b.ts', { typeOnly: true }),
      edge('appliance/auth/d.ts'),
      edge('appliance/auth/f.ts'),
      edge('node:fs', { external: true }),
      edge('reflect-metadata', { external: true, sideEffect: true }),
      edge('appliance/auth/polyfill.ts', { sideEffect: true }),
      edge('appliance/auth/g.ts'),
      edge('appliance/auth/h.ts', { sideEffect: true }),
    ]);
  });

  test('appliance/ importing a daemon or the CLI fails', () => {
    assert.equal(outwardImports(graphOf({ 'appliance/auth/a.ts': [edge('daemons/web/server.ts', { typeOnly: true })] })).length, 1);
    assert.equal(outwardImports(graphOf({ 'appliance/auth/a.ts': [edge('cli/orbit/context.ts')] })).length, 1);
    assert.deepEqual(outwardImports(graphOf({ 'daemons/web/a.ts': [edge('appliance/index.ts')] })), []);
  });

  test('a daemon importing another daemon fails', () => {
    assert.equal(daemonCrossImports(graphOf({ 'daemons/web/a.ts': [edge('daemons/supervisor/b.ts')] })).length, 1);
    assert.deepEqual(daemonCrossImports(graphOf({ 'daemons/web/a.ts': [edge('daemons/web/routes/b.ts')] })), []);
  });

  test('a lower layer importing a higher one fails, and so does a module with no layer', () => {
    assert.equal(layerViolations(graphOf({ 'appliance/store/a.ts': [edge('appliance/auth/index.ts', { typeOnly: true })] }), LAYER).length, 1);
    assert.equal(layerViolations(graphOf({ 'appliance/auth/a.ts': [edge('appliance/nowhere/index.ts')] }), LAYER).length, 1);
    assert.equal(layerViolations(graphOf({ 'appliance/auth/a.ts': [edge('appliance/appliance.ts')] }), LAYER).length, 1);
    assert.deepEqual(layerViolations(graphOf({ 'appliance/auth/a.ts': [edge('appliance/store/index.ts')] }), LAYER), []);
  });

  test('an import cycle fails, through type-only imports and through a file importing itself', () => {
    const cycle = graphOf({
      'a.ts': [edge('b.ts')],
      'b.ts': [edge('c.ts', { typeOnly: true })],
      'c.ts': [edge('a.ts'), edge('d.ts')],
      'd.ts': [],
    });
    assert.deepEqual(importCycles(cycle), ['a.ts → b.ts → c.ts → a.ts']);
    assert.equal(importCycles(graphOf({ 'a.ts': [edge('a.ts')] })).length, 1);
    // Two separate cycles are two findings.
    assert.equal(importCycles(graphOf({ 'a.ts': [edge('b.ts')], 'b.ts': [edge('a.ts')], 'c.ts': [edge('d.ts')], 'd.ts': [edge('c.ts')] })).length, 2);
    // A diamond is not a cycle.
    assert.deepEqual(importCycles(graphOf({ 'a.ts': [edge('b.ts'), edge('c.ts')], 'b.ts': [edge('d.ts')], 'c.ts': [edge('d.ts')], 'd.ts': [] })), []);
  });

  test('reaching past another module\'s index.ts fails; inside a module, from tests, and through index.ts it passes', () => {
    assert.equal(indexBypasses(graphOf({ 'appliance/access/a.ts': [edge('appliance/errors/text.ts')] })).length, 1);
    assert.equal(indexBypasses(graphOf({ 'cli/orbit/a.ts': [edge('appliance/pki/certificates.ts')] })).length, 1);
    assert.equal(indexBypasses(graphOf({ 'daemons/web/a.ts': [edge('appliance/appliance.ts', { typeOnly: true })] })).length, 1);
    assert.deepEqual(
      indexBypasses(graphOf({
        'appliance/access/a.ts': [edge('appliance/access/b.ts'), edge('appliance/errors/index.ts')],
        'daemons/web/a.ts': [edge('appliance/index.ts'), edge('daemons/web/b.ts')],
        'tests/appliance/x.test.ts': [edge('appliance/pki/certificates.ts')],
      })),
      [],
    );
  });

  test('a side-effect import fails unless its package is allowed with a reason', () => {
    const g = graphOf({ 'daemons/web/a.ts': [edge('some-polyfill', { external: true, sideEffect: true })] });
    assert.equal(sideEffectImports(g).length, 1);
    assert.deepEqual(sideEffectImports(g, { 'some-polyfill': 'a library reads the globals it installs' }), []);
    assert.equal(sideEffectImports(graphOf({ 'cli/orbit/a.ts': [edge('cli/orbit/setup.ts', { sideEffect: true })] })).length, 1);
  });
});
