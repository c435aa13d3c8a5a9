import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TlsKey } from '../../core/tls-key.js';
import { keyProtection } from '../../keys/pkcs11-keygen.js';
import { openPkcs11TlsKey } from '../../keys/pkcs11-tls-key.js';
import { readPinFile } from '../../keys/pkcs11-token.js';
import { DEV_AUDIENCE, DEV_GRPC_AUDIENCE, DEV_ISSUER, planDevPki, type DevPki } from '../../pki/dev-pki.js';
import { writePlannedFiles } from '../../pki/write.js';
import { startServer } from '../child-server.js';
import { createDemoSoftHsmToken, makeDevKeysInToken, SOFTHSM_MODULE_PATHS, type TokenPlace } from '../dev-keys-in-token.js';
import { UsageError } from '../errors.js';

export interface DemoSetup {
  pki: DevPki;
  sts: string;
  resource: string;
  /** Absent when the gRPC packages are not installed. */
  grpcServer?: string;
  ca: string;
  alice: { cert: string; key: TlsKey };
  bob: { cert: string; key: TlsKey };
  /** Where each private key lives, one line each, for the demo to print. */
  keyPlaces: string[];
  /** With --pkcs11: what the token says of alice's key (asked again in a step of the story). */
  aliceProtection?: () => ReturnType<typeof keyProtection>;
}

/**
 * The demo's world: a dev PKI in `dir` (with --pkcs11, alice's, bob's and the STS signing key made
 * in a throw-away SoftHSM2 token there), the STS, the resource and the gRPC server started as
 * child processes, and alice's and bob's client keys ready for the in-process clients.
 */
export async function setUpDemo(
  dir: string,
  children: ChildProcess[],
  pkcs11Module: string | undefined,
  servers: { grpc: boolean },
): Promise<DemoSetup> {
  const file = (name: string): string => join(dir, name);
  const token = pkcs11Module === undefined ? undefined : await createDemoSoftHsmToken(file('softhsm'), pkcs11Module);
  const inToken = token === undefined ? undefined : await makeDevKeysInToken('demo', token);
  const pki = await planDevPki(inToken === undefined ? {} : { inToken });
  await writePlannedFiles(dir, pki.files);

  const sts = await startServer(children, ['sts', '--config', file('sts.yaml'), '--port', '0']);
  const protectedServer = (command: string, name: string, audience: string): Promise<string> =>
    startServer(children, [
      command,
      ...['--port', '0', '--tls-ca', file('ca.crt'), '--tls-cert', file(`${name}.crt`), '--tls-key', file(`${name}.key`)],
      ...['--jwks', `${sts}/.well-known/jwks.json`, '--issuer', DEV_ISSUER, '--audience', audience],
    ]);
  const resource = await protectedServer('resource', 'server', DEV_AUDIENCE);
  const grpcServer = servers.grpc ? await protectedServer('grpc-server', 'grpc', DEV_GRPC_AUDIENCE) : undefined;
  const read = (name: string): Promise<string> => readFile(file(name), 'utf8');
  const [ca, aliceCert, bobCert] = await Promise.all(['ca.crt', 'alice.crt', 'bob.crt'].map(read));
  const serverKeys = `the CA's and the servers' keys: files in ${dir} (ca.key, sts.key, server.key, grpc.key)`;
  const keys = token === undefined || inToken === undefined ? await keysInFiles(read, dir) : await keysInToken(token, inToken);
  return {
    pki,
    sts,
    resource,
    ...(grpcServer === undefined ? {} : { grpcServer }),
    ca: ca as string,
    alice: { cert: aliceCert as string, key: keys.alice },
    bob: { cert: bobCert as string, key: keys.bob },
    keyPlaces: [...keys.places, serverKeys],
    ...(keys.protection === undefined ? {} : { aliceProtection: keys.protection }),
  };
}

interface ClientKeys {
  alice: TlsKey;
  bob: TlsKey;
  places: string[];
  protection?: () => ReturnType<typeof keyProtection>;
}

async function keysInFiles(read: (name: string) => Promise<string>, dir: string): Promise<ClientKeys> {
  const [alice, bob] = (await Promise.all(['alice.key', 'bob.key'].map(read))) as [string, string];
  return { alice, bob, places: [`alice's and bob's keys and the STS signing key: files in ${dir} (alice.key, bob.key, jwt.key)`] };
}

async function keysInToken(
  token: TokenPlace & { label: string },
  inToken: Awaited<ReturnType<typeof makeDevKeysInToken>>,
): Promise<ClientKeys> {
  const where = { module: token.module as string, pin: await readPinFile(token.pinFile as string) };
  const open = (uri: string) => openPkcs11TlsKey({ uri, ...where });
  const [alice, bob] = await Promise.all([open(inToken.uris.alice), open(inToken.uris.bob)]);
  const inTheToken = `in SoftHSM2 token "${token.label}" (${token.module}), not extractable`;
  return {
    alice,
    bob,
    places: [
      `alice's key: ${inTheToken}: ${inToken.uris.alice}`,
      `bob's key: ${inTheToken}: ${inToken.uris.bob}`,
      `the STS signing key: ${inTheToken}: ${inToken.uris.jwt}`,
    ],
    protection: () => keyProtection({ uri: inToken.uris.alice, ...where }),
  };
}

/** The SoftHSM2 module for `demo --pkcs11`: the one given, else where distributions install it. */
export function demoPkcs11Module(given: string | undefined): string {
  if (given !== undefined) return given;
  const found = SOFTHSM_MODULE_PATHS.find((path) => existsSync(path));
  if (found === undefined)
    throw new UsageError('demo --pkcs11: SoftHSM2 is not installed (apt-get install softhsm2), or give --pkcs11-module');
  return found;
}
