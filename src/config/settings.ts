import { dirname, resolve } from 'node:path';
import * as v from 'valibot';
import { ConfigError, FileProblem } from '../core/config-error.js';
import { isPkcs11Uri } from '../core/tls-key.js';
import { envNameOf, fileSchema, fromFlagText, toLibraryValue, userProblem, type OptionSpec, type OptionType } from './option.js';

/**
 * What a person gave a command: flags (as parsed, text; environment variables among them), and a
 * configuration file (as parsed, YAML or JSON). A flag overrides the file's key for the same
 * setting, one by one.
 */
export interface SettingSources {
  /** The command, for flag errors: `resource: --port must be ...`. */
  command: string;
  flags: Readonly<Record<string, string | boolean | string[] | undefined>>;
  /** The flags whose values came from their environment variables, to name those in errors. */
  fromEnv?: ReadonlySet<string>;
  file?: { path: string; document: Readonly<Record<string, unknown>> };
}

/**
 * Every setting the sources give, by library option name, in library units. Absent settings are
 * absent (the library fills in its defaults).
 * @throws ConfigError naming the flag (`sts: --rate-limit must be ...`) or the file and key.
 */
export function readSettings(specs: readonly OptionSpec[], sources: SettingSources): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const spec of specs) {
    const value = readSetting(spec, sources);
    if (value !== undefined) values[spec.option] = value;
  }
  return values;
}

function readSetting(spec: OptionSpec, sources: SettingSources): unknown {
  const flagged = spec.flag === undefined ? undefined : sources.flags[spec.flag];
  if (flagged !== undefined && !(Array.isArray(flagged) && flagged.length === 0)) return fromFlag(spec, flagged, sources);
  if (sources.file === undefined) return undefined;
  const written = valueAt(sources.file.document, spec.key);
  if (written === undefined) return undefined;
  return fromFile(spec, written, sources.file.path);
}

function fromFlag(spec: OptionSpec, raw: string | boolean | string[], sources: SettingSources): unknown {
  const flag = spec.flag as string;
  const name = sources.fromEnv?.has(flag) === true ? envNameOf(flag) : `--${flag}`;
  const fail = (problem: string): ConfigError => new ConfigError(name, problem, `${sources.command}: ${name} ${problem}`);
  if (spec.type.kind === 'path' || spec.type.kind === 'path-or-url' || spec.type.kind === 'path-or-pkcs11') return raw;
  if (spec.type.kind === 'paths') return [raw].flat();
  const type = spec.type;
  const value =
    type.kind === 'boolean' || type.kind === 'strings' ? (type.kind === 'strings' ? [raw].flat() : raw) : fromFlagText(type, String(raw));
  const result = v.safeParse(fileSchema(type), value);
  if (!result.success) throw fail(userProblem(type));
  return toLibraryValue(type, result.output);
}

function fromFile(spec: OptionSpec, written: unknown, file: string): unknown {
  const fail = (problem: string): FileProblem => new FileProblem(file, `${spec.key}: ${problem}`);
  const base = dirname(file);
  if (spec.type.kind === 'path' || spec.type.kind === 'path-or-url' || spec.type.kind === 'path-or-pkcs11') {
    if (typeof written !== 'string' || written.length === 0) throw fail('must be a non-empty string');
    if (spec.type.kind === 'path-or-url' && /^[a-z][a-z0-9+.-]*:\/\//i.test(written)) return written;
    return spec.type.kind === 'path-or-pkcs11' && isPkcs11Uri(written) ? written : resolve(base, written);
  }
  if (spec.type.kind === 'paths') {
    const list = Array.isArray(written) ? written : [written];
    list.forEach((item, i) => {
      if (typeof item !== 'string' || item.length === 0) throw new FileProblem(file, `${spec.key}[${i}]: must be a non-empty string`);
    });
    return list.map((item) => resolve(base, item as string));
  }
  const type: OptionType = spec.type;
  const result = v.safeParse(fileSchema(type), written);
  if (!result.success) throw fail(userProblem(type));
  return toLibraryValue(type, result.output);
}

/** The value at a dotted key path of a parsed document (`limits.handshake_timeout`). */
function valueAt(document: Readonly<Record<string, unknown>>, key: string): unknown {
  let current: unknown = document;
  for (const part of key.split('.')) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/**
 * Refuse keys a configuration file may not have, naming the first with the keys allowed at its
 * level. `sections` are keys whose value is a mapping with keys of their own (`tls`, `limits`);
 * `opaque` keys are checked by a schema of their own (the policy).
 * @throws FileProblem
 */
export function checkFileKeys(
  file: string,
  document: Readonly<Record<string, unknown>>,
  specs: readonly Pick<OptionSpec, 'key'>[],
  opaque: readonly string[] = [],
): void {
  const keys = specs.map((spec) => spec.key);
  const top = [...new Set([...keys.map((key) => key.split('.')[0] as string), ...opaque])];
  for (const key of Object.keys(document)) {
    if (!top.includes(key)) throw new FileProblem(file, `${key}: unknown key (expected one of ${top.join(', ')})`);
  }
  for (const section of top.filter((key) => !opaque.includes(key) && keys.some((full) => full.startsWith(`${key}.`)))) {
    const value = document[section];
    if (value === undefined) continue;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new FileProblem(file, `${section}: must be a mapping`);
    const inner = keys.filter((full) => full.startsWith(`${section}.`)).map((full) => full.slice(section.length + 1));
    for (const key of Object.keys(value)) {
      if (!inner.includes(key)) throw new FileProblem(file, `${section}.${key}: unknown key (expected one of ${inner.join(', ')})`);
    }
  }
}
