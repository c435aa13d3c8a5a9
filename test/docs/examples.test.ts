import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { docBlocks, REPO, type DocBlock } from './doc-blocks.js';
import { createExampleProject } from './example-project.js';

// Every TypeScript block in README.md and docs/ is compiled as a user would paste it: one file per
// block, in a new ESM project whose `certbound` is this repository's built package, under
// `strict` + `nodenext`. A block marked `<!-- example: fragment -->` shows a few lines out of a
// program and gets declarations of the names its text takes as given (FRAGMENT_NAMES) in front;
// every other block must compile on its own. readme-examples.test.ts runs the runnable ones.

/**
 * What a fragment may use without declaring it: the names the surrounding text says are given,
 * each declared only when the fragment does not declare or import that name itself.
 */
const FRAGMENT_NAMES: Readonly<Record<string, string>> = {
  protect: "import { protect } from 'certbound/node';",
  createServerInterceptor: "import { createServerInterceptor } from 'certbound/grpc';",
  createBoundTokenVerifier: "import { createBoundTokenVerifier } from 'certbound';",
  verifier: "declare const verifier: import('certbound').BoundTokenVerifier;",
  log: "declare const log: import('pino').Logger;",
  handler:
    "declare const handler: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, auth: import('certbound').VerifiedToken) => void;",
  ca: 'declare const ca: Buffer;',
  cert: 'declare const cert: Buffer;',
  key: 'declare const key: Buffer;',
  tlsSocket: "declare const tlsSocket: import('node:tls').TLSSocket;",
  token: 'declare const token: string;',
  identity: "declare const identity: import('certbound/client').ClientIdentity;",
  thumbprint: 'declare const thumbprint: string;',
  aliceCert: 'declare const aliceCert: Buffer;',
  issuer: 'declare const issuer: string;',
  audience: 'declare const audience: string;',
  stsUrl: 'declare const stsUrl: string;',
  subjectToken: 'declare const subjectToken: string;',
  subjectTokenFile: 'declare const subjectTokenFile: string;',
  policyDocument: 'declare const policyDocument: unknown;',
  // The echo service of proto/echo.proto, as docs/grpc.md's server example types it.
  EchoClient: `type EchoClient = InstanceType<import('@grpc/grpc-js').ServiceClientConstructor> & {
    SayHello(request: { name: string }, callback: (error: import('@grpc/grpc-js').ServiceError | null, reply?: { message: string }) => void): void;
  };`,
  EchoServer: "declare const EchoServer: import('@grpc/grpc-js').ServiceClientConstructor;",
  client: 'declare const client: EchoClient;',
};

/** The declarations a fragment gets in front: one line each, so that error lines map back. */
function fragmentContext(code: string): string {
  return Object.entries(FRAGMENT_NAMES)
    .filter(
      ([name]) =>
        !new RegExp(
          `(import[^;]*\\b${name}\\b[^;]*from|(const|let|function|class|type|interface)\\s+(\\{[^}]*|\\[[^\\]]*)?\\b${name}\\b)`,
        ).test(code),
    )
    .map(([, declaration]) => declaration.replace(/\n\s*/g, ' '))
    .join('\n');
}

const TS_CONFIG = {
  compilerOptions: {
    strict: true,
    module: 'nodenext',
    moduleResolution: 'nodenext',
    target: 'es2022',
    types: ['node'],
    skipLibCheck: true,
    noEmitOnError: false,
    outDir: 'out',
    rootDir: 'src',
  },
  include: ['src'],
};

const blocks = docBlocks().filter((block) => block.lang === 'ts');
let project = '';

/** What is put in front of a block's code: a fragment's context, nothing for a complete example. */
function prefixOf(block: DocBlock): string {
  if (block.marker[0] !== 'fragment') return '';
  const context = fragmentContext(block.code);
  return context === '' ? '' : `${context}\n`;
}

/** The file a block is compiled from: `README.md:291` becomes `README-291.ts`. */
function sourceName(block: DocBlock): string {
  return `${block.file.replace(/\//g, '_').replace(/\.md$/, '')}-${block.line}.ts`;
}

before(async () => {
  project = await createExampleProject('certbound-doc-examples-');
  await writeFile(join(project, 'tsconfig.json'), JSON.stringify(TS_CONFIG));
  await mkdir(join(project, 'src'));
  for (const block of blocks) {
    // `export {}` makes every block a module, as a pasted .ts file in a "type": "module" project is.
    await writeFile(join(project, 'src', sourceName(block)), prefixOf(block) + block.code + 'export {};\n');
  }
});

after(async () => {
  if (project !== '') await rm(project, { recursive: true, force: true });
});

test('docs: every TypeScript example compiles under strict + nodenext against the built package', () => {
  assert.ok(blocks.length >= 20, `found ${blocks.length} ts blocks`);
  const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', '.', '--pretty', 'false'], { cwd: project, encoding: 'utf8', timeout: 120_000 });
  // Name each failure by the documentation line it comes from.
  const failures = result.stdout
    .split('\n')
    .filter((line) => line.includes('error TS'))
    .map((line) => {
      const match = /^src\/(.+)-(\d+)\.ts\((\d+),\d+\): (.*)$/.exec(line);
      const block = blocks.find((candidate) => match !== null && sourceName(candidate) === `${match[1]}-${match[2]}.ts`);
      if (match === null || block === undefined) return line;
      const offset = prefixOf(block).split('\n').length - 1;
      return `${block.file}:${block.line + Number(match[3]) - offset}: ${match[4]}`;
    });
  assert.ok(failures.length === 0, `documentation examples that do not compile:\n${failures.join('\n')}`);
  assert.equal(result.status, 0, result.stdout + result.stderr);
});
