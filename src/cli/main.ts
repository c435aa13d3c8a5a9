#!/usr/bin/env node
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { CertboundError } from '../core/errors.js';
import { UsageError } from './errors.js';
import { didYouMean } from './suggest.js';
import { leaveCluster } from './workers.js';
import { COMMANDS } from './command-table.js';

const SERVERS: ReadonlySet<string> = new Set(['sts', 'resource', 'grpc-server']);

const HELP = `certbound: certificate-bound OAuth 2.0 access tokens (RFC 8705 + RFC 8693)

Usage: certbound <command> [options]   (certbound <command> --help for details)

${Object.values(COMMANDS)
  .map((command) => command.usage.split('\n')[0])
  .join('\n')}

Exit codes: 0 success, 1 refused or failed (STS/resource said no, unreachable), 2 bad input.
--debug on any command adds error details. Every other flag can also be set in the environment
as CERTBOUND_<FLAG> (--tls-cert: CERTBOUND_TLS_CERT); a flag wins (docs/configuration.md).
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(HELP);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (command === undefined)
    throw new UsageError(`unknown command "${name}"${didYouMean(name, Object.keys(COMMANDS)) || ' (see certbound --help)'}`);
  // Servers are found by name (`pidof -s certbound-resource`, `pkill -HUP certbound-sts`); under
  // --workers the primary keeps the plain name, so a signal sent by name reaches all through it.
  if (SERVERS.has(name)) process.title = cluster.isWorker ? `certbound-${name}-worker` : `certbound-${name}`;
  return command.run(rest);
}

/** One line, no stack: `certbound: <message>`; --debug adds details and the cause chain. */
function report(error: unknown, debug: boolean): number {
  const message = error instanceof CertboundError ? error.description : error instanceof Error ? error.message : String(error);
  process.stderr.write(`certbound: ${message.split('\n')[0]}\n`);
  if (debug) {
    if (error instanceof CertboundError && error.detail !== undefined) process.stderr.write(`detail: ${error.detail}\n`);
    let cause = error instanceof Error ? error.cause : undefined;
    while (cause instanceof Error) {
      process.stderr.write(`cause: ${cause.message}\n`);
      cause = cause.cause;
    }
    if (error instanceof Error && error.stack !== undefined) process.stderr.write(`${error.stack}\n`);
  }
  const exitCode = (error as { exitCode?: unknown } | null)?.exitCode;
  return typeof exitCode === 'number' ? exitCode : 2;
}

const argv = process.argv.slice(2);
main(argv)
  .then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.exitCode = report(error, argv.includes('--debug'));
    },
  )
  .finally(leaveCluster);
