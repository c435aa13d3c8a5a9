/**
 * A configuration problem: a bad library option, a bad value in a configuration file or policy,
 * a bad flag. Misuse, so a TypeError (thrown at construction or at load, never per request),
 * with a stable code and the path of what is wrong, in the vocabulary of whoever wrote it:
 * `limits.handshakeTimeoutMs` for a library option, `policy.clients[2].certificate` in a file.
 * Its name stays `TypeError`, as Node's own coded errors do (ERR_INVALID_ARG_VALUE): callers
 * branch on `code`, which is `CB_CONFIG_INVALID` for every configuration problem.
 */
export class ConfigError extends TypeError {
  readonly code = 'CB_CONFIG_INVALID' as const;

  constructor(
    /** Where the problem is: an option path, a key path in a document, or a file. */
    readonly path: string,
    /** What is wrong, as a phrase that follows the path ("must be an https URL"). */
    readonly problem: string,
    // `"trustedProxy.addresses": "10.0.0.0/33" is not an IP address` reads as a sentence too.
    message = `"${path}"${problem.startsWith(':') ? '' : ' '}${problem}`,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * A problem with a named file (a configuration file, a key, a certificate), or with a value in
 * one: the message is `<file>: <problem>`, where the problem names the key path inside the file
 * when there is one (`certs/sts.yaml: policy.clients: at least one client must be registered`).
 */
export class FileProblem extends ConfigError {
  constructor(path: string, problem: string, options?: ErrorOptions) {
    super(path, problem, `${path}: ${problem}`, options);
    this.name = 'FileProblem';
  }
}

/**
 * A bad argument to a certbound function, described whole by its message ("RSA signing keys must
 * be at least 2048 bits"): a ConfigError, so it carries CB_CONFIG_INVALID like every other misuse.
 */
export function misuse(message: string, options?: ErrorOptions): ConfigError {
  return new ConfigError('', message, message, options);
}
