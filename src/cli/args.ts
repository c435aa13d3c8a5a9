import { parseArgs } from 'node:util';
import { envNameOf, type CommandOption } from '../config/option.js';
import { fromEnvironment } from './environment.js';
import { UsageError } from './errors.js';

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  /** The flags whose values came from the environment (CERTBOUND_<FLAG>), to name them so in errors. */
  fromEnv: ReadonlySet<string>;
}

/** The parseArgs options of a command's flags: booleans, repeatable lists, text for the rest. */
export function flagOptions(options: readonly CommandOption[]): Record<string, { type: 'string' | 'boolean'; multiple?: true }> {
  return Object.fromEntries(
    options.flatMap((option) =>
      option.flag === undefined
        ? []
        : [
            [
              option.flag,
              option.type.kind === 'boolean'
                ? { type: 'boolean' }
                : option.type.kind === 'strings' || option.type.kind === 'paths'
                  ? { type: 'string', multiple: true }
                  : { type: 'string' },
            ],
          ],
    ),
  );
}

/**
 * node:util parseArgs, strict, with its errors turned into one-line usage errors; then each flag
 * not given from its CERTBOUND_<FLAG> variable, if set (flag > environment > file > default).
 */
export function parse(command: string, argv: string[], options: readonly CommandOption[], positionals = 0): Parsed {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...flagOptions(options), debug: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: positionals > 0,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message.split('\n')[0]}`);
  }
  if (parsed.positionals.length > positionals)
    throw new UsageError(`${command}: unexpected argument ${JSON.stringify(parsed.positionals[positionals])}`);
  const values = parsed.values as Parsed['values'];
  if (values.help === true) return { values, positionals: parsed.positionals, fromEnv: new Set() };
  const environment = fromEnvironment(command, options, values);
  return { values: { ...values, ...environment.values }, positionals: parsed.positionals, fromEnv: environment.flags };
}

/** A flag as the person gave it, for errors: `--port`, or CERTBOUND_PORT when it came from there. */
export function flagName(parsed: Parsed, flag: string): string {
  return parsed.fromEnv.has(flag) ? envNameOf(flag) : `--${flag}`;
}

/**
 * Which of mutually exclusive flags were given. A flag on the command line beats the variables of
 * the others as it beats its own: `--subject-token-file F` with CERTBOUND_SUBJECT_TOKEN set is F.
 */
export function givenAlternatives(parsed: Parsed, alternatives: readonly string[]): string[] {
  const given = alternatives.filter((flag) => optionalString(parsed, flag) !== undefined);
  const typed = given.filter((flag) => !parsed.fromEnv.has(flag));
  return typed.length > 0 ? typed : given;
}

export function requireString(command: string, parsed: Parsed, name: string): string {
  const value = parsed.values[name];
  if (typeof value !== 'string' || value.length === 0) throw new UsageError(`${command}: --${name} is required`);
  return value;
}

export function optionalString(parsed: Parsed, name: string): string | undefined {
  const value = parsed.values[name];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

export function stringList(parsed: Parsed, name: string): string[] {
  const value = parsed.values[name];
  return Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
}

/** A TCP port: 0 (pick a free one) to 65535. */
export function port(command: string, parsed: Parsed, fallback?: number): number {
  const raw = parsed.values.port;
  if (raw === undefined) {
    if (fallback === undefined) throw new UsageError(`${command}: --port is required`);
    return fallback;
  }
  const value = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || value > 65535)
    throw new UsageError(`${command}: ${flagName(parsed, 'port')} must be 0-65535`);
  return value;
}

/** An integer flag within [min, max], or undefined when absent. */
export function integerFlag(command: string, parsed: Parsed, name: string, min: number, max: number): number | undefined {
  const raw = optionalString(parsed, name);
  if (raw === undefined) return undefined;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < min || Number(raw) > max)
    throw new UsageError(`${command}: ${flagName(parsed, name)} must be an integer from ${min} to ${max}`);
  return Number(raw);
}
