/** RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E, at least one. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Whether a value is one RFC 6749 §3.3 scope token (printable ASCII, no space, `"` or `\`). */
export function isScopeToken(value: unknown): value is string {
  return typeof value === 'string' && SCOPE_TOKEN.test(value);
}

/** RFC 6749 §3.3 scope string → distinct scope tokens, in order. */
export function parseScope(scope: string | undefined): string[] {
  if (scope === undefined) return [];
  return [...new Set(scope.split(' ').filter((token) => token.length > 0))];
}
