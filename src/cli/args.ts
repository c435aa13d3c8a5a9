import { parseArgs } from 'node:util';
import { envNameOf, type CommandOption } from '../config/option.js';
import { fromEnvironment } from './environment.js';
import { UsageError } from './errors.js';
import { didYouMean } from './suggest.js';

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  /** The flags whose values came from the environment (CERTBOUND_<FLAG>), to name them so in errors. */
  fromEnv: ReadonlySet<string>;
}

/** The parseArgs options of a command's flags: booleans, repeatable lists, text for the rest. */
export function flagOptions(
  options: readonly CommandOption[],
): Record<string, { type: 'string' | 'boolean'; multiple?: true; short?: string }> {
  return Object.fromEntries(
    options.flatMap((option) =>
      option.flag === undefined
        ? []
        : [
            [
              option.flag,
              {
                ...(option.type.kind === 'boolean'
                  ? { type: 'boolean' as const }
                  : option.type.kind === 'strings' || option.type.kind === 'paths'
                    ? { type: 'string' as const, multiple: true as const }
                    : { type: 'string' as const }),
                ...('short' in option && option.short !== undefined ? { short: option.short } : {}),
              },
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
  const known = { ...flagOptions(options), debug: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;
  let parsed;
  try {
    parsed = parseArgs({ args: withNegativeValues(argv, known), options: known, allowPositionals: positionals > 0, strict: true });
  } catch (error) {
    throw new UsageError(`${command}: ${parseProblem(error as Error & { code?: string }, Object.keys(known))}`);
  }
  if (parsed.positionals.length > positionals)
    throw new UsageError(`${command}: unexpected argument ${JSON.stringify(parsed.positionals[positionals])}`);
  const values = parsed.values as Parsed['values'];
  if (values.help === true) return { values, positionals: parsed.positionals, fromEnv: new Set() };
  const environment = fromEnvironment(command, options, values);
  return { values: { ...values, ...environment.values }, positionals: parsed.positionals, fromEnv: environment.flags };
}

/**
 * `--port -1` as `--port=-1`: parseArgs takes a value that starts with a dash for an option and
 * calls the flag ambiguous, so the flag's own check ("must be an integer from 0 to 65535") would
 * never be reached. Only number-like values are joined, so a forgotten value before the next
 * flag is still reported as missing.
 */
function withNegativeValues(argv: readonly string[], known: Readonly<Record<string, { type: string }>>): string[] {
  const joined: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') return [...joined, ...argv.slice(i)];
    const next = argv[i + 1];
    const flag = arg.startsWith('--') ? arg.slice(2) : undefined;
    if (flag !== undefined && known[flag]?.type === 'string' && next !== undefined && /^-[\d.]/.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else joined.push(arg);
  }
  return joined;
}

/** parseArgs's refusal in one line, with the closest known flag for an unknown one. */
function parseProblem(error: Error & { code?: string }, flags: readonly string[]): string {
  const unknown = /^Unknown option '(--?)([^']*)'/.exec(error.message);
  if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown !== null) {
    const [, dashes, name] = unknown as unknown as [string, string, string];
    const suggestion = didYouMean(name.split('=')[0] as string, flags, '--');
    return `unknown option ${dashes}${name}${suggestion === '' ? ' (see --help)' : suggestion}`;
  }
  // parseArgs words a forgotten value at the end and before another flag differently; both are the same mistake.
  const valueless = /^Option '(--[\w-]+)(?: <value>)?' argument (?:missing|is ambiguous)/.exec(error.message);
  if (valueless !== null) {
    const flag = valueless[1] as string;
    return `${flag} needs a value (one starting with "-" is written ${flag}=VALUE)`;
  }
  return (error.message.split('\n')[0] as string).replace(/\.$/, '');
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

/**
 * Refuse at once when any of `names` is missing, naming them all, so one run tells everything
 * that is missing: `resource: --tls-ca, --tls-cert and --jwks are required`.
 */
export function requireFlags(command: string, parsed: Parsed, names: readonly string[]): void {
  missingFlags(
    command,
    names.filter((name) => optionalString(parsed, name) === undefined && stringList(parsed, name).length === 0),
  );
}

/** The usage error for the flags (without `--`) that must be given and were not; nothing when none are. */
export function missingFlags(command: string, missing: readonly string[], suffix = ''): void {
  if (missing.length === 0) return;
  const flags = missing.map((name) => `--${name}`);
  const list = flags.length === 1 ? flags[0] : `${flags.slice(0, -1).join(', ')} and ${flags.at(-1) as string}`;
  throw new UsageError(`${command}: ${list} ${flags.length === 1 ? 'is' : 'are'} required${suffix}`);
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
    throw new UsageError(`${command}: ${flagName(parsed, 'port')} must be an integer from 0 to 65535`);
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
