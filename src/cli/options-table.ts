import { envNameOf, type CommandOption, type OptionType } from '../config/option.js';
import { LIST_SEPARATORS } from './environment.js';
import * as authz from './commands/authz.js';
import * as authzConfig from './commands/authz-config.js';
import * as call from './commands/call.js';
import * as client from './commands/client.js';
import * as demo from './commands/demo.js';
import * as grpc from './commands/grpc.js';
import * as inspect from './commands/inspect.js';
import * as introspect from './commands/introspect.js';
import * as keys from './commands/keys.js';
import * as pki from './commands/pki.js';
import * as pkiIssue from './commands/pki-issue.js';
import * as probe from './commands/probe.js';
import * as resource from './commands/resource.js';
import * as sts from './commands/sts.js';
import * as wait from './commands/wait.js';

/** Every command and the options it parses: the very lists the commands hand to parse(). */
export const COMMAND_OPTIONS: ReadonlyArray<readonly [string, readonly CommandOption[]]> = [
  ['sts', sts.flags],
  ['resource', resource.flags],
  ['grpc-server', grpc.serverFlags],
  ['authz', authz.flags],
  ['authz config', authzConfig.configFlags],
  ['token', client.tokenFlags],
  ['call', call.flags],
  ['grpc-call', grpc.callFlags],
  ['probe', probe.flags],
  ['keys', keys.flags],
  ['pki init', pki.initFlags],
  ['pki revoke', pki.revokeFlags],
  ['pki issue', pkiIssue.issueFlags],
  ['demo', demo.flags],
  ['inspect', inspect.flags],
  ['introspect', introspect.flags],
  ['wait', wait.flags],
  ['completion', []],
];

const BEGIN = '<!-- options-table:begin -->';
const END = '<!-- options-table:end -->';

/** How a type is written, in a flag, a file or a variable. */
function typeText(type: OptionType): string {
  switch (type.kind) {
    case 'integer':
      return `integer, ${type.min}–${type.max}`;
    case 'seconds':
      return `seconds, ${type.min}–${type.max}`;
    case 'boolean':
      return 'boolean';
    case 'string':
      return 'string';
    case 'https-url':
      return 'https URL';
    case 'enum':
      return `one of ${type.values.map((value) => `\`${value}\``).join(', ')}`;
    case 'strings':
      return `list (variable: \`${LIST_SEPARATORS.strings}\`-separated)`;
    case 'path':
      return 'path';
    case 'path-or-url':
      return 'path or https URL';
    case 'path-or-pkcs11':
      return 'path or `pkcs11:` URI';
    case 'paths':
      return `paths (variable: \`${LIST_SEPARATORS.paths}\`-separated)`;
  }
}

const cell = (text: string): string => text.replaceAll('|', '\\|');

/**
 * The options table of docs/configuration.md: one row per option and meaning, with the commands
 * that take it, its flag, its variable, its file key (settings only) and its type. Options the
 * same in several commands share a row.
 */
export function optionsTable(): string {
  const rows = new Map<string, { commands: string[]; cells: string[] }>();
  for (const [command, options] of COMMAND_OPTIONS) {
    for (const option of options) {
      if (option.flag === undefined) continue;
      const key = 'key' in option ? `\`${option.key}\`` : '';
      const cells = [`\`${envNameOf(option.flag)}\``, `\`--${option.flag}\``, key, typeText(option.type), cell(option.doc)];
      const id = cells.join('\u0000');
      const row = rows.get(id) ?? { commands: [], cells };
      if (!row.commands.includes(command)) row.commands.push(command);
      rows.set(id, row);
    }
  }
  const variable = (row: { cells: string[] }): string => row.cells[0] as string;
  const sorted = [...rows.values()].sort((a, b) => (variable(a) < variable(b) ? -1 : variable(a) > variable(b) ? 1 : 0));
  return [
    '| variable | flag | commands | file key | type | meaning |',
    '| --- | --- | --- | --- | --- | --- |',
    ...sorted.map(
      ({ commands, cells: [variable, flag, key, type, doc] }) =>
        `| ${variable} | ${flag} | ${commands.join(', ')} | ${key} | ${type} | ${doc} |`,
    ),
  ].join('\n');
}

/**
 * `document` with the text between its options-table markers replaced by the table.
 * @throws Error when the markers are missing.
 */
export function withOptionsTable(document: string): string {
  const start = document.indexOf(BEGIN);
  const end = document.indexOf(END);
  if (start === -1 || end < start) throw new Error(`no ${BEGIN} ... ${END} region`);
  return `${document.slice(0, start + BEGIN.length)}\n${optionsTable()}\n${document.slice(end)}`;
}
