import * as v from 'valibot';
import { ConfigError } from './config-error.js';
import { isScopeToken } from './scope.js';

/**
 * Building blocks for certbound's configuration schemas (valibot), with the wording every
 * certbound configuration error uses, and the translation of a schema's first issue into the
 * path and problem of a ConfigError.
 */

export const NON_EMPTY = 'must be a non-empty string';
const MAPPING = 'must be a mapping';
const LIST = 'must be a list';
const TRUE_FALSE = 'must be true or false';

/** A non-empty string. */
export const text = v.pipe(v.string(NON_EMPTY), v.minLength(1, NON_EMPTY));
/** A list of non-empty strings. */
export const texts = v.array(text, LIST);
/** A boolean, `fallback` when absent. */
export const flag = (fallback: boolean) => v.optional(v.boolean(TRUE_FALSE), fallback);
/** An integer from `min` to `max`, with the problem phrased by `problem`. */
export const integer = (min: number, max: number, problem = `must be an integer from ${min} to ${max}`) =>
  v.pipe(v.number(problem), v.integer(problem), v.minValue(min, problem), v.maxValue(max, problem));
/** One of a closed set of strings. */
export const oneOf = <const T extends readonly [string, ...string[]]>(values: T, problem = `must be one of ${values.join(', ')}`) =>
  v.picklist(values, problem);
/** A list of values of `item`. */
export const list = <T extends v.GenericSchema>(item: T) => v.array(item, LIST);

/**
 * A YAML/JSON mapping with exactly these keys: anything else is refused, naming the key and the
 * keys allowed, before any value is checked.
 */
export function mapping<E extends v.ObjectEntries>(entries: E) {
  const allowed = Object.keys(entries);
  return v.pipe(
    v.custom<Record<string, unknown>>((input) => input !== null && typeof input === 'object' && !Array.isArray(input), MAPPING),
    v.rawCheck(({ dataset, addIssue }) => {
      if (!dataset.typed) return;
      for (const key of Object.keys(dataset.value)) {
        if (allowed.includes(key)) continue;
        addIssue({ message: `unknown key (expected one of ${allowed.join(', ')})`, path: [pathItem(dataset.value, key)] });
        return;
      }
    }),
    // Present every key, so that a missing one is reported by its own schema ("must be a list"),
    // not as a missing key, and optional ones take their defaults.
    v.transform((input) => Object.fromEntries(allowed.map((key) => [key, input[key]]))),
    v.object(entries),
  );
}

/** A path item for an issue about `key` of `object`, for rawCheck and rawTransform. */
export function pathItem(object: Record<string, unknown>, key: string): v.ObjectPathItem {
  return { type: 'object', origin: 'value', input: object, key, value: object[key] };
}

/**
 * Validate `input` against `schema` and return its output, or throw the error `fail` makes of
 * the first problem: its path (`prefix.clients[2].certificate`) and problem.
 */
export function parseWith<T extends v.GenericSchema>(
  schema: T,
  input: unknown,
  prefix: string,
  fail: (path: string, problem: string) => Error,
): v.InferOutput<T> {
  const result = v.safeParse(schema, input, { abortEarly: true, abortPipeEarly: true });
  if (result.success) return result.output;
  const issue = result.issues[0];
  throw fail(pathOf(prefix, issue.path), issue.message);
}

/** `prefix.a.b[2].c` from a valibot issue path. */
function pathOf(prefix: string, path: readonly v.IssuePathItem[] | undefined): string {
  let text = prefix;
  for (const item of path ?? []) {
    const key = (item as { key?: unknown }).key;
    text += typeof key === 'number' ? `[${key}]` : text === '' ? String(key) : `.${String(key)}`;
  }
  return text;
}

// Library options: the same schemas, the problems phrased for the option names callers wrote.

/** A plain object (not null, not an array). */
export const isPlainObject = (input: unknown): input is Record<string, unknown> =>
  input !== null && typeof input === 'object' && !Array.isArray(input);

/**
 * An options object with exactly these options: anything but an object is refused with `problem`
 * ("verifier options must be an object"), and so is an option it does not know, naming it and
 * the options there are: a misspelt `requiredScope` must not silently guard nothing. `others`
 * are options of the same object that another schema checks (an adapter's own, next to the
 * shared ones); `loose` lets any other key through, for schemas that check part of an object.
 */
export const optionsObject = <E extends v.ObjectEntries>(
  entries: E,
  problem: string,
  { others = [], loose = false }: { others?: readonly string[]; loose?: boolean } = {},
) => {
  const known = new Set([...Object.keys(entries), ...others]);
  return v.pipe(
    v.custom<Record<string, unknown>>(isPlainObject, problem),
    v.rawCheck(({ dataset, addIssue }) => {
      if (loose || !dataset.typed) return;
      const unknown = Object.keys(dataset.value).find((key) => !known.has(key) && dataset.value[key] !== undefined);
      if (unknown !== undefined)
        addIssue({ message: `is not an option (expected one of ${[...known].join(', ')})`, path: [pathItem(dataset.value, unknown)] });
    }),
    // A missing option is reported by its own schema ("must be a non-empty string"), not as a missing key.
    v.transform((input) => ({ ...Object.fromEntries(Object.keys(entries).map((key) => [key, undefined])), ...input })),
    v.looseObject(entries),
  );
};

/** A function, refused with `problem` ("must be a function"). */
export const callable = <T extends (...args: never[]) => unknown>(problem: string) =>
  v.custom<T>((input) => typeof input === 'function', problem);

/** An object with a method `name`, as made by certbound's factory for it ("must come from createTokenSource()"). */
export const madeBy = <T>(name: string, problem: string) =>
  v.custom<T>(
    (input) => input !== null && typeof input === 'object' && typeof (input as Record<string, unknown>)[name] === 'function',
    problem,
  );

/**
 * Validate a library options object and return its output.
 * @throws ConfigError naming the option: `"algorithms" must not be empty`; a problem with the
 *   whole object (or between options) is its message as written.
 */
export function parseOptions<T extends v.GenericSchema>(schema: T, input: unknown, prefix = ''): v.InferOutput<T> {
  const result = v.safeParse(schema, input, { abortEarly: true, abortPipeEarly: true });
  if (result.success) return result.output;
  const issue = result.issues[0];
  if (issue.path === undefined || issue.path.length === 0) throw new ConfigError(prefix, issue.message, issue.message);
  throw new ConfigError(pathOf(prefix, issue.path), issue.message);
}

/** A non-empty string, refused with `problem`. */
export const nonEmpty = (problem = NON_EMPTY) => v.pipe(v.string(problem), v.minLength(1, problem));

/** An absolute https URL, refused with `problem`. */
export const httpsUrl = (problem = 'must be an https URL') =>
  v.pipe(
    v.string(problem),
    v.check((text: string) => URL.canParse(text) && text.startsWith('https://'), problem),
  );

/** A list of RFC 6749 §3.3 scope tokens. */
export const scopeTokens = (problem = 'must be a list of scope tokens') =>
  v.pipe(
    v.array(v.string(problem), problem),
    v.check((list: string[]) => list.every(isScopeToken), problem),
  );
