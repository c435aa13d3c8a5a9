import * as v from 'valibot';

/**
 * One setting, described once: its name in the library's options object, its key in a
 * configuration file and its command-line flag, what values it takes and why it defaults as it
 * does (the default itself is in src/defaults.ts). The library's schema, the file's schema and the
 * flag parser are all derived from this, so a rule is never written twice.
 */
export interface OptionSpec {
  /** The library option ('handshakeTimeoutMs'). */
  option: string;
  /** The configuration file key, snake_case, dotted inside sections ('limits.handshake_timeout'). */
  key: string;
  /** The flag without `--` ('handshake-timeout'); absent when there is none. */
  flag?: string;
  type: OptionType;
  /** One line for the docs. */
  doc: string;
}

/**
 * A flag of a command that has no configuration file (`token`, `probe`, `keys`, ...), or a flag
 * of a server command that is not a setting (`--config`), described as a setting is: what values
 * it takes, one line for the docs. The option tables and the parser are derived from it.
 */
export interface FlagSpec {
  flag: string;
  type: OptionType;
  doc: string;
  /** A one-letter alias, where a well-known tool's is expected (`call -X`, as curl's). */
  short?: string;
}

/** What a command takes: settings (with a file key) and plain flags. */
export type CommandOption = OptionSpec | FlagSpec;

/**
 * The environment variable of a flag: `--tls-cert` is CERTBOUND_TLS_CERT. Every flag of every
 * command has one; the flag wins over it, and it wins over the configuration file.
 */
export function envNameOf(flag: string): string {
  return `CERTBOUND_${flag.toUpperCase().replaceAll('-', '_')}`;
}

export type OptionType =
  /** A whole number from min to max, the same in every vocabulary (counts, bytes). */
  | { kind: 'integer'; min: number; max: number }
  /** Whole seconds from min to max for people (flags, files); milliseconds for the library. */
  | { kind: 'seconds'; min: number; max: number }
  | { kind: 'boolean' }
  | { kind: 'string' }
  | { kind: 'https-url' }
  | { kind: 'enum'; values: readonly [string, ...string[]] }
  /** A repeatable flag or a list in the file. */
  | { kind: 'strings' }
  /** A file: a flag's path is relative to the current directory, a configuration file's to that file. */
  | { kind: 'path' }
  /** A file (as `path`) or an https URL (kept as written). */
  | { kind: 'path-or-url' }
  /** A key or certificate: a file (as `path`) or a `pkcs11:` URI naming an object in a token (kept as written). */
  | { kind: 'path-or-pkcs11' }
  | { kind: 'paths' };

/** The library value of a setting given by a person: seconds become milliseconds. */
export function toLibraryValue(type: OptionType, value: unknown): unknown {
  return type.kind === 'seconds' && typeof value === 'number' ? value * 1000 : value;
}

/** What a person may write, as the problem phrase of a refusal. */
export function userProblem(type: OptionType): string {
  switch (type.kind) {
    case 'integer':
    case 'seconds':
      return `must be an integer from ${type.min} to ${type.max}`;
    case 'boolean':
      return 'must be true or false';
    case 'string':
      return 'must be a non-empty string';
    case 'https-url':
      return 'must be an https URL';
    case 'enum':
      return `must be one of ${type.values.join(', ')}`;
    case 'strings':
      return 'must be a non-empty string or a list of them';
    case 'path':
    case 'path-or-url':
    case 'path-or-pkcs11':
      return 'must be a non-empty string';
    case 'paths':
      return 'must be a path or a list of paths';
  }
}

/** The schema of a setting as a person writes it in a configuration file (numbers as numbers). */
export function fileSchema(type: OptionType): v.GenericSchema {
  const problem = userProblem(type);
  switch (type.kind) {
    case 'integer':
    case 'seconds':
      return v.pipe(v.number(problem), v.integer(problem), v.minValue(type.min, problem), v.maxValue(type.max, problem));
    case 'boolean':
      return v.boolean(problem);
    case 'string':
      return v.pipe(v.string(problem), v.minLength(1, problem));
    case 'https-url':
      return v.pipe(
        v.string(problem),
        v.check((text: string) => URL.canParse(text) && text.startsWith('https://'), problem),
      );
    case 'enum':
      return v.picklist(type.values, problem);
    case 'strings':
      // `audience: api` means the one-element list a person would expect.
      return v.pipe(
        v.union(
          [v.pipe(v.string(problem), v.minLength(1, problem)), v.array(v.pipe(v.string(problem), v.minLength(1, problem)), problem)],
          problem,
        ),
        v.transform((value: string | string[]) => [value].flat()),
      );
    case 'path':
    case 'path-or-url':
    case 'path-or-pkcs11':
      return v.pipe(v.string(problem), v.minLength(1, problem));
    case 'paths':
      return v.union(
        [v.pipe(v.string(problem), v.minLength(1, problem)), v.array(v.pipe(v.string(problem), v.minLength(1, problem)), problem)],
        problem,
      );
  }
}

/** A flag's text as the value a file would hold, or undefined when it is not one. */
export function fromFlagText(type: OptionType, text: string): unknown {
  if (type.kind === 'integer' || type.kind === 'seconds') return /^\d{1,9}$/.test(text) ? Number(text) : undefined;
  return text;
}

/**
 * The schema of a setting as the library takes it (milliseconds for durations), its problems
 * phrased for the library's option names.
 */
export function librarySchema(type: OptionType): v.GenericSchema {
  if (type.kind === 'seconds') {
    const [min, max] = [type.min * 1000, type.max * 1000];
    return v.pipe(
      v.number(`must be an integer >= ${min}`),
      v.integer(`must be an integer >= ${min}`),
      v.minValue(min, `must be an integer >= ${min}`),
      v.maxValue(max, `must be at most ${max}`),
    );
  }
  if (type.kind === 'integer') {
    return v.pipe(
      v.number(`must be an integer >= ${type.min}`),
      v.integer(`must be an integer >= ${type.min}`),
      v.minValue(type.min, `must be an integer >= ${type.min}`),
      v.maxValue(type.max, `must be at most ${type.max}`),
    );
  }
  return fileSchema(type);
}
