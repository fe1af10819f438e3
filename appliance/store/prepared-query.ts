// Queries of a fixed shape built and compiled by Kysely once, then run with new values bound by position.
// Kysely builds an operation tree and compiles it to SQL on every call; on a hot path (a login runs ~15
// statements) that costs more main-thread time than SQLite takes to run them. Same SQL, same engine path.
import type { Compilable, CompiledQuery, Kysely, QueryResult } from 'kysely';
import type { Database } from './schema.js';

type Db = Kysely<Database>;

const SLOT = Symbol('prepared query slot');

/** Where a parameter's value comes from: argument `arg`, or a property of it (`r.id` of an object argument). */
interface SlotRef {
  arg: number;
  key?: string;
}

/**
 * Stands in for an argument while the query is built, and never reaches the database. An object argument's
 * properties are stand-ins too (`values({ id: r.id, ... })`), one level deep.
 */
function slot(ref: SlotRef): object {
  return new Proxy(Object.freeze({}), {
    get: (_, prop) => (prop === SLOT ? ref : typeof prop === 'string' && ref.key === undefined ? slot({ arg: ref.arg, key: prop }) : undefined),
    has: (_, prop) => prop === SLOT,
  });
}

function slotRef(v: unknown): SlotRef | undefined {
  return typeof v === 'object' && v !== null && SLOT in v ? (v as Record<typeof SLOT, SlotRef>)[SLOT] : undefined;
}

interface Template {
  compiled: CompiledQuery;
  /** Per parameter: where its value comes from, or the constant the builder put there. */
  bindings: ({ ref: SlotRef } | { value: unknown })[];
}

/**
 * `build` describes the query with its arguments as values (never branching on them: it runs once, with
 * stand-ins; its arguments are counted by `build.length`, so no defaults or rest parameters). The result is
 * what Kysely's `execute` returns underneath (rows, numAffectedRows, insertId). An argument compared with `=`
 * must not be null at run time (that would need `is`, fixed at build time).
 */
export function preparedQuery<A extends unknown[], R>(build: (db: Db, ...args: A) => Compilable<R>): (db: Db, ...args: A) => Promise<QueryResult<R>> {
  // Compiled once per dialect: the adapter is shared by a Kysely instance and its transactions.
  const templates = new WeakMap<object, Template>();
  const arity = build.length - 1;
  const compile = (db: Db): Template => {
    const slots = Array.from({ length: arity }, (_, arg) => slot({ arg }));
    const compiled = build(db, ...(slots as A)).compile();
    const bindings = compiled.parameters.map((p) => {
      const ref = slotRef(p);
      return ref ? { ref } : { value: p };
    });
    const template = { compiled, bindings };
    templates.set(db.getExecutor().adapter, template);
    return template;
  };
  return (db, ...args) => {
    const { compiled, bindings } = templates.get(db.getExecutor().adapter) ?? compile(db);
    const parameters = bindings.map((b) => {
      if (!('ref' in b)) return b.value;
      const v = args[b.ref.arg];
      // The row types given here name every column; an absent property binds NULL rather than failing.
      return b.ref.key === undefined ? v : ((v as Record<string, unknown>)[b.ref.key] ?? null);
    });
    // The compiled node and id are reused: no Kysely plugin is installed that would key anything on them.
    return db.executeQuery<R>({ ...compiled, parameters } as CompiledQuery<R>);
  };
}
