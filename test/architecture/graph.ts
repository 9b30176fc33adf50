// The import graph of src/: every relative specifier a file names, found by parsing it with the
// TypeScript compiler (static imports, `export ... from`, `import x = require()`, dynamic
// `import()`, and `new URL('./x.js', import.meta.url)`, which is how worker files are named).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

export interface ImportEdge {
  /** Importing file, relative to src/ with forward slashes. */
  from: string;
  /** Imported file, relative to src/. */
  to: string;
  /** Only types cross this edge (`import type`, or every named binding marked `type`). */
  typeOnly: boolean;
  line: number;
}

const SOURCE = /\.(ts|js|mts|mjs)$/;

export function sourceFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (SOURCE.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(path);
    }
  };
  walk(root);
  return out.sort();
}

function isImportMetaUrl(node: ts.Node): boolean {
  return (
    ts.isPropertyAccessExpression(node) &&
    node.name.text === 'url' &&
    ts.isMetaProperty(node.expression) &&
    node.expression.keywordToken === ts.SyntaxKind.ImportKeyword
  );
}

function typeOnlyClause(clause: ts.ImportClause | undefined): boolean {
  if (!clause) return false;
  if (clause.isTypeOnly) return true;
  if (clause.name) return false;
  const bindings = clause.namedBindings;
  return (
    bindings !== undefined &&
    ts.isNamedImports(bindings) &&
    bindings.elements.length > 0 &&
    bindings.elements.every((e) => e.isTypeOnly)
  );
}

/** Every relative specifier of one file, with whether only types cross it. */
export function specifiers(file: string, text: string): { spec: string; typeOnly: boolean; line: number }[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: { spec: string; typeOnly: boolean; line: number }[] = [];
  const add = (node: ts.Node, spec: string, typeOnly: boolean): void => {
    const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    found.push({ spec, typeOnly, line });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node, node.moduleSpecifier.text, typeOnlyClause(node.importClause));
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      const typeOnly =
        node.isTypeOnly ||
        (node.exportClause !== undefined &&
          ts.isNamedExports(node.exportClause) &&
          node.exportClause.elements.length > 0 &&
          node.exportClause.elements.every((e) => e.isTypeOnly));
      add(node, node.moduleSpecifier.text, typeOnly);
    } else if (
      ts.isImportEqualsDeclaration(node) &&
      ts.isExternalModuleReference(node.moduleReference) &&
      ts.isStringLiteral(node.moduleReference.expression)
    ) {
      add(node, node.moduleReference.expression.text, node.isTypeOnly);
    } else if (ts.isCallExpression(node)) {
      const [first] = node.arguments;
      const isDynamic = node.expression.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(node.expression) && node.expression.text === 'require';
      if ((isDynamic || isRequire) && first && ts.isStringLiteralLike(first)) add(node, first.text, false);
    } else if (ts.isImportTypeNode(node)) {
      const arg = node.argument;
      if (ts.isLiteralTypeNode(arg) && ts.isStringLiteral(arg.literal)) add(node, arg.literal.text, true);
    } else if (
      ts.isNewExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === 'URL' &&
      node.arguments?.length === 2
    ) {
      const [first, second] = node.arguments;
      if (first && second && ts.isStringLiteralLike(first) && isImportMetaUrl(second)) {
        add(node, first.text, false);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found.filter((f) => f.spec.startsWith('.'));
}

/** Resolve `./x.js` to the file on disk (x.ts, x.js, x/index.ts); null when none exists. */
function resolveSpec(fromFile: string, spec: string, known: Set<string>): string | null {
  const base = resolve(dirname(fromFile), spec);
  const stem = base.replace(/\.(js|mjs|ts|mts)$/, '');
  for (const candidate of [base, `${stem}.ts`, `${stem}.mts`, `${stem}.js`, join(base, 'index.ts')]) {
    if (known.has(candidate)) return candidate;
  }
  return null;
}

export interface Graph {
  files: string[];
  edges: ImportEdge[];
  /** Relative specifiers inside src/ that resolve to no file (other than data files). */
  unresolved: { from: string; spec: string; line: number }[];
}

export function importGraph(root: string): Graph {
  const absolute = sourceFiles(root);
  const known = new Set(absolute);
  const rel = (path: string): string => relative(root, path).split('\\').join('/');
  const edges: ImportEdge[] = [];
  const unresolved: Graph['unresolved'] = [];
  for (const file of absolute) {
    for (const { spec, typeOnly, line } of specifiers(file, readFileSync(file, 'utf8'))) {
      const target = resolveSpec(file, spec, known);
      if (target) {
        edges.push({ from: rel(file), to: rel(target), typeOnly, line });
        continue;
      }
      const outside = relative(root, resolve(dirname(file), spec)).startsWith('..');
      // Data files (SQL, HTML, JSON) named by URL are not modules; paths out of src/ are not ours.
      if (!outside && SOURCE.test(spec)) unresolved.push({ from: rel(file), spec, line });
    }
  }
  return { files: absolute.map(rel), edges, unresolved };
}
