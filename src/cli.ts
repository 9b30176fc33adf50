import { readFileSync } from 'node:fs';
import { runLineage, runMappingsCheck, runModels, runSend } from './cli/commands.js';
import { runMessages } from './cli/messages.js';
import { GatewayUnreachable, runModelsApi } from './cli/models-commands.js';
import { runReplay } from './cli/replay.js';
import { runKeys, runSubscriptions } from './cli/subscriptions.js';
import { UsageError } from './cli/usage-error.js';
import { ConfigError } from './config/load.js';

const USAGE = `usage: gateway <command>

  serve                               start the gateway (same as npm start)
  send FILE... [--host H] [--port P]  send HL7 v2 files over MLLP, print each ACK
  mappings check [--dir D] [--fixtures D] [--fhir P]...
                                      validate mappings and dry-run them on HL7 fixtures
                                      and FHIR resources/Bundles (P: a file or directory)
  models list [--files] | show NAME [--version V]
                                      registry: versions, status, aliases; list and card read the
                                      bundled files with --files, or when the gateway at --url
                                      (given or default) cannot be reached (said on stderr)
  models card NAME [--version V] [--fhir] [--files]
                                      the model card as Markdown (or FHIR Device + DocumentReference)
  models register CARD [--onnx F | --remote URL#NAME]
                                      register a draft version from a card and its ONNX file
  models import DIR [--card F]        register a draft from an MLflow model directory (onnx flavor)
  models validate NAME VERSION        replay the card's golden cases; draft -> validated
  models approve NAME VERSION --reason TEXT
                                      validated -> approved (token with models:approve)
  models alias NAME production|shadow|canary VERSION|none [--reason R] [--share S]
                                      move an alias (rollback is a move); --share for canary
  models retire NAME VERSION          retire a version no alias points at
  models monitor NAME [--version V] [--json]
                                      drift, data quality, performance and alerts of a version
  models history NAME [--at TIME]     every alias move; or which version each alias had at TIME
  lineage show ID                     timeline of a message (gateway message id or MSH-10)
  lineage verify                      check the whole audit chain
  messages search [--control-id ID] [--sender APP[|FAC]] [--type ORU^R01] [--status S]
         [--patient ID|-] [--model M] [--from T] [--to T] [--limit N] [--cursor C] [--all]
         [--raw] [--json]             search stored messages, newest first (--raw: phi:read,
                                      each view recorded; --patient - reads it from stdin)
  replay [ID...] [--from T] [--to T] [--model M] [--status S] [--dry-run] [--no-wait]
                                      process stored messages again (needs the replay scope)

  subscriptions create --source S --topic URL [--filter Q] [--endpoint URL]
      [--payload id-only|full-resource|empty] [--heartbeat SECONDS] [--header H]
                                      register a Backport Subscription on a source FHIR server
  subscriptions status [--json]       each subscription's last event number and heartbeat
  keys                                the JWKS of the SMART Backend Services signing key

Every command that calls the gateway (models, lineage, messages, replay, subscriptions) talks to the
running gateway over HTTP and takes --url U (default http://HOST:HTTP_PORT) and --token T
(else GATEWAY_TOKEN, GATEWAY_ADMIN_TOKEN or DATA_DIR/admin-token). send speaks MLLP
(--host, --port).`;

export async function main(argv: string[]): Promise<number> {
  const [command, sub, ...rest] = argv;
  try {
    switch (command) {
      case 'serve': {
        const { serve } = await import('./main.js');
        await serve();
        return 0;
      }
      case 'send':
        return await runSend(sub === undefined ? rest : [sub, ...rest]);
      case 'mappings':
        if (sub !== 'check') throw new UsageError(`unknown mappings command '${sub ?? ''}'`);
        return await runMappingsCheck(rest);
      case 'models':
        if (sub === 'list' || sub === 'card') {
          // The registry of the gateway at --url (default http://HOST:HTTP_PORT), whichever URL it
          // is; the bundled files with --files, or when that gateway cannot be reached (said so).
          if (rest.includes('--files')) return await runModels(sub, rest);
          try {
            return await runModelsApi(sub, rest);
          } catch (e) {
            if (!(e instanceof GatewayUnreachable)) throw e;
            process.stderr.write(
              `${e.message}\nreading the bundled model files instead (paths.models; --files reads them without asking a gateway)\n`,
            );
          }
          return await runModels(sub, rest);
        }
        return await runModelsApi(sub ?? '', rest);
      case 'subscriptions':
        return await runSubscriptions(sub, rest);
      case 'keys':
        return runKeys();
      case 'lineage':
        return await runLineage(sub, rest);
      case 'messages':
        return await runMessages(sub, rest);
      case 'replay':
        return await runReplay(sub === undefined ? rest : [sub, ...rest]);
      case 'help':
      case '--help':
      case '-h':
      case undefined:
        process.stdout.write(`${USAGE}\n`);
        return command === undefined ? 2 : 0;
      case '--version':
        process.stdout.write(
          `${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`,
        );
        return 0;
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (err) {
    // node:util parseArgs: an option the command does not take, or one without its value.
    const code = (err as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
      process.stderr.write(`gateway: ${(err as Error).message}\n\n${USAGE}\n`);
      return 2;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`gateway: ${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    process.stderr.write(`gateway: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
