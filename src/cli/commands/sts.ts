import { createStsServer } from '../../sts/server.js';
import { loadStsConfig } from '../../sts/config.js';
import { optionalString, parse, port, requireString } from '../args.js';
import { logEvent, serveUntilSignalled } from '../serve.js';

export const usage = `certbound sts --config FILE [--port N] [--host ADDR] [--check-config]
               [--tls-ca F] [--tls-cert F] [--tls-key F] [--jwt-key F] [--jwt-kid KID] [--issuer URL]
  Run the token-exchange STS (default 127.0.0.1:8081). Flags override the file.
  --check-config validates the file and everything it refers to, then exits.`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parse('sts', argv, {
    config: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    'check-config': { type: 'boolean' },
    'tls-ca': { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'jwt-key': { type: 'string' },
    'jwt-kid': { type: 'string' },
    issuer: { type: 'string' },
  });
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const configFile = requireString('sts', parsed, 'config');
  const overrides = {
    issuer: optionalString(parsed, 'issuer'),
    tlsCa: optionalString(parsed, 'tls-ca'),
    tlsCert: optionalString(parsed, 'tls-cert'),
    tlsKey: optionalString(parsed, 'tls-key'),
    jwtKey: optionalString(parsed, 'jwt-key'),
    jwtKid: optionalString(parsed, 'jwt-kid'),
  };
  const listenPort = port('sts', parsed, 8081);
  const config = await loadStsConfig(configFile, Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)));
  if (parsed.values['check-config'] === true) {
    const now = Math.floor(Date.now() / 1000);
    const signer = config.signingKey ?? config.keys?.signingKey(now);
    const keys = config.keys === undefined ? `${signer?.alg} key ${signer?.kid}` : `keystore with ${config.keys.publishedKeys(now).length} published keys, signing with ${signer === undefined ? 'none (no key active!)' : `${signer.alg} key ${signer.kid}`}`;
    config.keys?.close();
    process.stdout.write(`${configFile}: ok (issuer ${config.issuer}, ${config.policy.clients.length} clients, ${config.policy.subjectTokens.length} subject tokens, ${config.policy.trustedIssuers.length} trusted issuers, ${keys})\n`);
    return 0;
  }
  // SIGHUP re-reads a keystore at once (it is also re-read when keystore.json changes). With a
  // single key file there is nothing to reload, but SIGHUP must not kill the server either.
  const log = logEvent('sts');
  const keystore = config.keys;
  if (keystore !== undefined) keystore.onReloadError = (error) => log({ type: 'keystore.reload_failed', detail: error.message });
  process.on('SIGHUP', () => {
    if (keystore === undefined) log({ type: 'reload.skipped', detail: 'signing.key is a single key file; only a keystore reloads' });
    else void keystore.reload().then((loaded) => loaded && log({ type: 'keystore.reloaded' }));
  });
  const server = createStsServer({ ...config, onEvent: log });
  return serveUntilSignalled('sts', server, listenPort, optionalString(parsed, 'host') ?? '127.0.0.1', ` (issuer ${config.issuer})`);
}
