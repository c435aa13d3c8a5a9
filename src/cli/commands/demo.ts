import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEV_AUDIENCE, DEV_GRPC_AUDIENCE, DEV_ISSUER } from '../../pki/dev-pki.js';
import type { FlagSpec } from '../../config/option.js';
import { optionalString, parse } from '../args.js';
import { stopChild } from '../child-server.js';
import { UsageError } from '../errors.js';
import { grpcSteps } from './demo-grpc-steps.js';
import { httpSteps } from './demo-http-steps.js';
import { demoPkcs11Module, setUpDemo } from './demo-setup.js';
import type { DemoSteps } from './demo-step.js';
import { loadGrpc } from './grpc.js';

export const usage = `certbound demo [--keep] [--pkcs11 [--pkcs11-module F]]
  Build a fresh dev PKI in a temporary directory, start the STS, an HTTPS resource server and a
  gRPC server on loopback, and walk through the certificate-bound token story step by step. Exits 0 only when every step
  behaves as expected. Without the optional gRPC packages the six HTTPS steps run and the demo says
  which packages the four gRPC steps need. --keep leaves the temporary directory in place. --pkcs11 makes alice's,
  bob's and the STS signing key inside a throw-away SoftHSM2 token (--pkcs11-module: the SoftHSM2
  module, default where Debian installs it) and plays the same story with keys that never leave it.`;

export const flags: readonly FlagSpec[] = [
  { flag: 'keep', type: { kind: 'boolean' }, doc: 'leave the temporary directory in place' },
  { flag: 'pkcs11', type: { kind: 'boolean' }, doc: 'keep the keys in a throw-away SoftHSM2 token' },
  { flag: 'pkcs11-module', type: { kind: 'path' }, doc: 'the SoftHSM2 module (default: where Debian installs it)' },
];

export async function run(argv: string[]): Promise<number> {
  const parsed = parse('demo', argv, flags);
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const out = (line = ''): boolean => process.stdout.write(`${line}\n`);
  const dir = await mkdtemp(join(tmpdir(), 'certbound-demo-'));
  const children: ChildProcess[] = [];
  const parts: DemoSteps[] = [];
  try {
    const grpc = await loadGrpcIfInstalled();
    out('certbound demo: certificate-bound access tokens (RFC 8705) from a token-exchange STS (RFC 8693)');
    out();
    const pkcs11Module = parsed.values.pkcs11 === true ? demoPkcs11Module(optionalString(parsed, 'pkcs11-module')) : undefined;
    const world = await setUpDemo(dir, children, pkcs11Module, { grpc: !('missing' in grpc) });
    out(`0. Dev PKI written to ${dir}`);
    out(`   CA SHA-256 fingerprint ${world.pki.caFingerprint}`);
    out(`   STS listening on ${world.sts} (issuer ${DEV_ISSUER})`);
    out(`   resource server listening on ${world.resource} (audience ${DEV_AUDIENCE}, keys from the STS JWKS)`);
    if (world.grpcServer !== undefined)
      out(`   gRPC server listening on ${world.grpcServer} (audience ${DEV_GRPC_AUDIENCE}, keys from the STS JWKS)`);
    out('   where the private keys live:');
    for (const place of world.keyPlaces) out(`     ${place}`);
    out();

    parts.push(httpSteps(world));
    if (world.grpcServer !== undefined && !('missing' in grpc)) parts.push(grpcSteps({ ...world, grpcServer: world.grpcServer }, grpc));
    const steps = parts.flatMap((part) => part.steps);
    const protection = world.aliceProtection;
    if (protection !== undefined) {
      steps.unshift({
        title: "someone with the token's PIN asks it for alice's private key",
        expected: 'refused: the key is marked not extractable and its value sensitive, so it can sign but never leave',
        async run() {
          const seen = await protection();
          return {
            ok: !seen.extractable && seen.sensitive && seen.exportRefused,
            observed: `CKA_EXTRACTABLE=${seen.extractable}, CKA_SENSITIVE=${seen.sensitive}, reading the value: ${seen.exportRefused ? 'CKR_ATTRIBUTE_SENSITIVE' : 'allowed'}`,
          };
        },
      });
    }

    let failures = 0;
    for (const [index, step] of steps.entries()) {
      out(`${index + 1}. ${step.title}`);
      out(`   expected: ${step.expected}`);
      let result;
      try {
        result = await step.run();
      } catch (error) {
        result = { ok: false, observed: `error: ${error instanceof Error ? error.message : String(error)}` };
      }
      out(`   observed: ${result.observed}`);
      for (const detail of result.details ?? []) out(`             ${detail}`);
      out(`   ${result.ok ? 'PASS' : 'FAIL'}`);
      out();
      if (!result.ok) failures++;
    }
    out(
      failures === 0
        ? `All ${steps.length} steps behaved as expected: a stolen token is useless without its certificate.`
        : `${failures} of ${steps.length} steps did NOT behave as expected.`,
    );
    if ('missing' in grpc) out(`The ${GRPC_STEP_COUNT} gRPC steps did not run: ${grpc.missing}`);
    return failures === 0 ? 0 : 1;
  } finally {
    await Promise.all(parts.map((part) => part.close()));
    await Promise.all(children.map(stopChild));
    if (parsed.values.keep === true) out(`(kept ${dir})`);
    else await rm(dir, { recursive: true, force: true });
  }
}

/** The gRPC half of the story needs the optional gRPC packages; without them the HTTPS half still runs. */
const GRPC_STEP_COUNT = 4;

async function loadGrpcIfInstalled(): Promise<Awaited<ReturnType<typeof loadGrpc>> | { missing: string }> {
  try {
    return await loadGrpc();
  } catch (error) {
    if (error instanceof UsageError) return { missing: error.message };
    throw error;
  }
}
