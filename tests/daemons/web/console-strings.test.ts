// No words are hard-coded in a console page: every piece of JSX text and every human-read attribute (title,
// placeholder, aria-label, alt, label) comes from t('…') — the one shared catalogue, in seven languages. The
// pages are parsed with the TypeScript compiler (not matched by regular expressions), and the rule is shown to
// fail on a made-up page that breaks it.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const CONSOLE_DIR = path.join(root, 'daemons', 'web', 'console');

/** Attributes a person reads (or a screen reader speaks). */
const READ_ATTRIBUTES = new Set(['title', 'placeholder', 'aria-label', 'alt', 'label', 'aria-description', 'aria-placeholder', 'aria-roledescription', 'aria-valuetext']);

/** Text that needs no translation: white space, punctuation, symbols, digits. */
const NEUTRAL = /^[\s\p{P}\p{S}\p{N}]*$/u;

function tsxFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsxFiles(p));
    else if (name.endsWith('.tsx')) out.push(p);
  }
  return out;
}

/** Where a page shows words that are not a t('…') call: "file:line: text". */
export function hardCodedStrings(file: string, source: string): string[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TSX);
  const out: string[] = [];
  const report = (node: ts.Node, text: string) => out.push(`${file}:${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1}: ${JSON.stringify(text.trim())}`);
  // A string literal where JSX shows it: a child `{'text'}`, or either branch of a conditional child.
  const literalShown = (expr: ts.Expression | undefined): void => {
    if (!expr) return;
    if (ts.isParenthesizedExpression(expr)) return literalShown(expr.expression);
    if (ts.isConditionalExpression(expr)) {
      literalShown(expr.whenTrue);
      literalShown(expr.whenFalse);
      return;
    }
    if (ts.isBinaryExpression(expr) && (expr.operatorToken.kind === ts.SyntaxKind.AmpersandAmpersandToken || expr.operatorToken.kind === ts.SyntaxKind.BarBarToken || expr.operatorToken.kind === ts.SyntaxKind.QuestionQuestionToken)) {
      literalShown(expr.right);
      return;
    }
    if ((ts.isStringLiteral(expr) || ts.isNoSubstitutionTemplateLiteral(expr)) && !NEUTRAL.test(expr.text)) report(expr, expr.text);
    if (ts.isTemplateExpression(expr)) {
      const fixed = [expr.head.text, ...expr.templateSpans.map((s) => s.literal.text)].join(' ');
      if (!NEUTRAL.test(fixed)) report(expr, fixed);
    }
  };
  const visit = (node: ts.Node): void => {
    if (ts.isJsxText(node) && !NEUTRAL.test(node.text)) report(node, node.text);
    if (ts.isJsxExpression(node) && node.parent && (ts.isJsxElement(node.parent) || ts.isJsxFragment(node.parent))) literalShown(node.expression);
    if (ts.isJsxAttribute(node) && READ_ATTRIBUTES.has(node.name.getText(sf))) {
      const init = node.initializer;
      if (init && ts.isStringLiteral(init) && !NEUTRAL.test(init.text)) report(init, init.text);
      if (init && ts.isJsxExpression(init)) literalShown(init.expression);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

describe('console pages carry no hard-coded words', () => {
  test('the console has pages to scan', () => {
    const files = tsxFiles(CONSOLE_DIR).map((f) => path.relative(CONSOLE_DIR, f));
    for (const page of ['shell.tsx', 'pages/users.tsx', 'pages/audit.tsx']) assert.ok(files.includes(page), page);
  });

  test('every .tsx under daemons/web/console takes its words from t()', () => {
    const found = tsxFiles(CONSOLE_DIR).flatMap((f) => hardCodedStrings(path.relative(root, f), readFileSync(f, 'utf8')));
    assert.deepEqual(found, []);
  });

  test('the scan fails on text, read attributes and shown literals; punctuation, numbers and t() pass', () => {
    const page = `
      export function P({ n, on }: { n: number; on: boolean }) {
        return (
          <div class="x" id="y" title="Close the panel">
            <h1>Users</h1>
            <img alt="logo" src="/a.png" />
            <input placeholder={'Search'} aria-label={on ? t('a.b') : 'Filter'} />
            {on ? 'Enabled' : t('c.d')}
            {on && \`Hello \${n}\`}
            <p>{t('e.f')} ({n}) – 42 % · …</p>
            <span aria-label={t('g.h')}>{'·'}</span>
          </div>
        );
      }`;
    const found = hardCodedStrings('made-up.tsx', page).map((s) => s.replace(/^made-up\.tsx:\d+: /, ''));
    assert.deepEqual(found, ['"Close the panel"', '"Users"', '"logo"', '"Search"', '"Filter"', '"Enabled"', '"Hello"']);
  });
});
