import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../config/load.js';
import { checkMappings, type DryRunResult } from '../features/check.js';
import { extractFeatures, triggersScoring, usesMessageType } from '../features/extract.js';
import { formatMappingError, loadMappings } from '../features/mapping.js';
import { identifierSystemFor } from '../fhir/content-ids.js';
import type { OperationOutcomeIssue } from '../fhir/types.js';
import { splitMessages } from '../hl7/batch.js';
import { senderKey, tryReadHeader } from '../hl7/header.js';
import { parseHl7 } from '../hl7/parser.js';
import { parseModelCard } from '../models/registry/card.js';
import type { ClinicalEvent } from '../normalize/event.js';
import { dryRunFhir, type FhirDryRun } from '../normalize/fhir/dry-run.js';
import type { IdentifierMapping } from '../normalize/fhir/resources.js';
import { normalizeHl7 } from '../normalize/hl7v2.js';
import { dryRunWrite } from '../pipeline/write-dry-run.js';
import { UsageError } from './usage-error.js';

/**
 * `gateway mappings check [--dir D] [--fixtures D] [--fhir PATH]...`: validates every mapping
 * file, then dry-runs the mappings over HL7 v2 fixtures (`fixtures/hl7v2`) and FHIR files (a
 * resource, a Bundle or a subscription notification, or a directory of them; `fixtures/fhir` when
 * no --fhir is given). For FHIR it shows per file the features each mapping extracts (and the
 * FHIRPath that found them), the units converted, and every resource the gateway would refuse,
 * named by file and element. Nothing is stored, fetched or scored.
 */

const out = (s: string) => process.stdout.write(`${s}\n`);
const err = (s: string) => process.stderr.write(`${s}\n`);

/** Sender (MSH-3|MSH-4 as the inbox keys it) of each HL7 fixture event, by event. */
const senders = new WeakMap<ClinicalEvent, string>();

function hl7Events(dir: string): ClinicalEvent[] {
  if (!existsSync(dir)) return [];
  const events: ClinicalEvent[] = [];
  for (const f of readdirSync(dir)
    .filter((x) => x.endsWith('.hl7'))
    .sort()) {
    const { messages } = splitMessages(readFileSync(join(dir, f), 'utf8'));
    messages.forEach((text, i) => {
      try {
        const event = normalizeHl7(parseHl7(text), { channel: 'fixture', messageId: `${f}#${i + 1}` });
        const header = tryReadHeader(text);
        if (header) senders.set(event, senderKey(header));
        events.push(event);
      } catch {
        // Fixtures that are meant to be malformed are not dry-run material.
      }
    });
  }
  return events;
}

/**
 * Builds and validates the FHIR write-back of every event that would trigger scoring (a stand-in
 * score), printing what a validating FHIR server would refuse; answers how many were refused.
 */
function checkWriteBack(
  dir: string,
  modelsDir: string,
  events: readonly ClinicalEvent[],
  identifierSystem: (assigner: string | undefined) => string,
): { built: number; refused: number } {
  const { mappings } = loadMappings(dir);
  let built = 0;
  let refused = 0;
  for (const mapping of mappings) {
    const cardFile = join(modelsDir, mapping.model, 'card.yaml');
    if (!existsSync(cardFile)) continue;
    const card = parseModelCard(parseYaml(readFileSync(cardFile, 'utf8')), cardFile);
    for (const event of events) {
      const { values } = extractFeatures(event, mapping);
      if (!usesMessageType(mapping, event.source.messageType) || !triggersScoring(event, mapping, values))
        continue;
      const sender = senders.get(event);
      const problems =
        dryRunWrite({ event, sender, mapping, card, identifierSystem }) ??
        (sender ? ['no patient identifier (PID-3) in the message'] : undefined);
      if (!problems) continue; // a FHIR input whose patient the gateway resolves when it arrives
      built++;
      if (problems.length > 0) refused++;
      for (const p of problems)
        err(`${mapping.model} <- ${event.source.messageId}: write-back would be refused: ${p}`);
    }
  }
  return { built, refused };
}

/** The FHIR files a path names: itself, or the `.json` files of a directory (golden files and manifests left out). */
function fhirFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .filter((f) => f.endsWith('.json') && !f.endsWith('.expected.json') && f !== 'manifest.json')
    .sort()
    .map((f) => join(path, f));
}

const num = (v: number) => String(Number(v.toPrecision(6)));

function printFhirResult(r: DryRunResult): void {
  if (!r.listens && r.values === 0 && r.rejected.length === 0) return;
  out(
    `${r.mapping} <- ${r.event}: ${r.values} value(s)${r.rejected.length ? `, ${r.rejected.length} rejected` : ''}${r.triggered ? ', triggers scoring' : r.listens ? '' : ' (message type not among its triggers)'}`,
  );
  for (const x of r.extracted) {
    const converted =
      x.sourceUnit !== undefined ? `  (converted from ${num(x.sourceValue ?? x.value)} ${x.sourceUnit})` : '';
    out(
      `    ${x.feature} = ${num(x.value)} ${x.unit}${converted}  from ${x.sourceRef}${x.fhirpath ? `  fhirpath: ${x.fhirpath}` : ''}`,
    );
  }
  for (const x of r.rejected) out(`    rejected ${x.feature}: ${x.reason}`);
}

function printRejections(file: string, run: FhirDryRun): void {
  const where = (i: OperationOutcomeIssue) => (i.expression ?? ['$this']).join(', ');
  for (const { status, issue } of run.rejected)
    err(`${file}: ${where(issue)}: ${issue.details?.text ?? issue.code} (refused: HTTP ${status})`);
  for (const { status, issue } of run.unlessKnown)
    out(
      `    warning: ${where(issue)}: refused (HTTP ${status}) unless the gateway already knows this patient`,
    );
}

export function runMappingsCheck(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      dir: { type: 'string' },
      fixtures: { type: 'string' },
      fhir: { type: 'string', multiple: true },
    },
  });
  const config = loadConfig();
  const dir = resolve(values.dir ?? config.paths.mappings);
  const explicit = values.fhir ?? [];
  for (const p of explicit) if (!existsSync(p)) throw new UsageError(`no such file or directory: ${p}`);
  const fhirPaths = explicit.length > 0 ? explicit : existsSync('fixtures/fhir') ? ['fixtures/fhir'] : [];
  const identifiers: IdentifierMapping = {
    systems: config.patients.identifierSystems,
    defaultSystemPrefix: config.patients.defaultSystemPrefix,
  };
  return (async () => {
    const hl7 = hl7Events(resolve(values.fixtures ?? 'fixtures/hl7v2'));
    const report = checkMappings(dir, hl7);
    for (const e of report.errors) err(formatMappingError(e));
    for (const r of report.dryRun) {
      out(
        `${r.mapping} <- ${r.event}: ${r.values} value(s)${r.rejected.length ? `, ${r.rejected.length} rejected` : ''}${r.triggered ? ', triggers scoring' : ''}`,
      );
      for (const x of r.rejected) out(`    rejected ${x.feature}: ${x.reason}`);
    }
    let files = 0;
    let refused = 0;
    const fhirEvents: ClinicalEvent[] = [];
    for (const file of fhirPaths.flatMap(fhirFiles)) {
      files++;
      const shown = relative(process.cwd(), file) || basename(file);
      const run = await dryRunFhir(readFileSync(file), basename(file), identifiers);
      out(
        `fhir ${shown} (${run.kind}): ${run.events.length} patient group(s)${run.rejected.length ? `, ${run.rejected.length} issue(s): would be refused` : ''}`,
      );
      for (const n of run.notes) out(`    note: ${n}`);
      if (run.rejected.length > 0) refused++;
      printRejections(shown, run);
      for (const r of checkMappings(dir, run.events).dryRun) printFhirResult(r);
      fhirEvents.push(...run.events);
    }
    if (report.errors.length > 0) {
      err(`${report.errors.length} error(s) in ${dir}`);
      return 1;
    }
    const identifierSystem = (assigner: string | undefined) => identifierSystemFor(assigner, identifiers);
    const writes = checkWriteBack(
      dir,
      resolve(config.paths.models),
      [...hl7, ...fhirEvents],
      identifierSystem,
    );
    out(
      `write-back dry-run: ${writes.built} scoring event(s) built and validated, ${writes.refused} would be refused`,
    );
    if (writes.refused > 0) {
      err(`${writes.refused} scoring event(s) would be refused by the FHIR server`);
      return 1;
    }
    const fhirNote = files > 0 ? `, ${files} FHIR file(s) dry-run, ${refused} would be refused` : '';
    // Files named with --fhir must be accepted; the shipped fixtures hold refusals on purpose.
    if (explicit.length > 0 && refused > 0) {
      err(`${refused} FHIR file(s) hold input the gateway would refuse`);
      return 1;
    }
    out(`mappings ok: ${dir} (${hl7.length} fixture event(s) dry-run${fhirNote})`);
    return 0;
  })().catch((e: unknown) => {
    err(`gateway: mappings check failed: ${(e as Error).message}`);
    return 1;
  });
}
