import { delimiter } from 'node:path';
import { envNameOf, type CommandOption } from '../config/option.js';
import { UsageError } from './errors.js';

/**
 * Variables certbound reads that are not flags: no flag may be named so that its variable is one
 * of these (the PIN is a secret itself, never a file name; docs/hardware-keys.md).
 */
export const RESERVED_VARIABLES: ReadonlySet<string> = new Set(['CERTBOUND_PKCS11_PIN']);

/** How a repeatable option is written in one variable: strings split at commas, paths as PATH is. */
export const LIST_SEPARATORS = { strings: ',', paths: delimiter } as const;

type FlagValue = string | boolean | string[];

/**
 * The values the environment gives for the flags absent from the command line, and which flags
 * they are: CERTBOUND_<FLAG> (see envNameOf). An empty variable is unset. The text is not checked
 * here beyond its shape (a boolean, a list): the flag's own checks apply to it as to a flag, and
 * name the variable.
 * @throws UsageError naming the variable, never echoing its value (it may be a secret).
 */
export function fromEnvironment(
  command: string,
  options: readonly CommandOption[],
  given: Readonly<Record<string, unknown>>,
  env: NodeJS.ProcessEnv = process.env,
): { values: Record<string, FlagValue>; flags: Set<string> } {
  const values: Record<string, FlagValue> = {};
  const flags = new Set<string>();
  for (const option of options) {
    const flag = option.flag;
    if (flag === undefined || flags.has(flag) || isGiven(given[flag])) continue;
    const name = envNameOf(flag);
    if (RESERVED_VARIABLES.has(name)) throw new Error(`--${flag} would be read from ${name}, which certbound reads as something else`);
    const text = env[name];
    if (text === undefined || text === '') continue;
    values[flag] = valueOf(command, name, option.type.kind, text);
    flags.add(flag);
  }
  return { values, flags };
}

function valueOf(command: string, name: string, kind: CommandOption['type']['kind'], text: string): FlagValue {
  if (kind === 'boolean') {
    if (text === 'true' || text === '1') return true;
    if (text === 'false' || text === '0') return false;
    throw new UsageError(`${command}: ${name} must be true, false, 1 or 0`);
  }
  if (kind === 'strings' || kind === 'paths') {
    const separator = LIST_SEPARATORS[kind];
    const items = text.split(separator).map((item) => (kind === 'strings' ? item.trim() : item));
    if (items.some((item) => item === ''))
      throw new UsageError(`${command}: ${name} must be a list of non-empty items separated by "${separator}"`);
    return items;
  }
  return text;
}

/**
 * The environment without the flags' variables (CERTBOUND_<FLAG>), for the servers `certbound
 * demo` starts: their flags are the demo's, not whatever the shell was set up for.
 */
export function withoutFlagVariables(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith('CERTBOUND_') || RESERVED_VARIABLES.has(name)));
}

const isGiven = (value: unknown): boolean => value !== undefined && !(Array.isArray(value) && value.length === 0);
