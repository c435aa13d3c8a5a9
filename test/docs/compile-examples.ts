// Compiles the TypeScript blocks of README.md and docs/ as a user would paste them: one file per
// block, in an ESM project (`"type": "module"`) under `strict` + `nodenext`. A block marked
// `<!-- example: fragment -->` shows a few lines out of a program and gets declarations of the
// names its text takes as given (FRAGMENT_NAMES) in front; every other block must compile on its
// own. Used by examples.test.ts (against the built repository) and scripts/check-package.mjs
// (against the installed tarball). Not a test file itself.
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { docBlocks, type DocBlock } from './doc-blocks.js';

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

/** The TypeScript blocks of the documentation. */
export function typeScriptBlocks(): DocBlock[] {
  return docBlocks().filter((block) => block.lang === 'ts');
}

/**
 * Write every TypeScript block into `project` (which has certbound and its peers installed) and
 * compile them with `tsc` (the path of TypeScript's bin/tsc). Resolves to the compiler's errors,
 * each named by the documentation line it comes from; empty when every example compiles.
 */
export async function compileExamples(project: string, tsc: string): Promise<string[]> {
  const blocks = typeScriptBlocks();
  await writeFile(join(project, 'tsconfig.json'), JSON.stringify(TS_CONFIG));
  await mkdir(join(project, 'src'), { recursive: true });
  for (const block of blocks) {
    // `export {}` makes every block a module, as a pasted .ts file in a "type": "module" project is.
    await writeFile(join(project, 'src', sourceName(block)), prefixOf(block) + block.code + 'export {};\n');
  }
  const result = spawnSync(process.execPath, [tsc, '-p', '.', '--pretty', 'false'], { cwd: project, encoding: 'utf8', timeout: 180_000 });
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
  if (failures.length === 0 && result.status !== 0) failures.push(`tsc exited ${result.status}: ${result.stdout}${result.stderr}`);
  return failures;
}
