import * as authz from './commands/authz.js';
import * as call from './commands/call.js';
import * as client from './commands/client.js';
import * as completion from './commands/completion.js';
import * as demo from './commands/demo.js';
import * as grpc from './commands/grpc.js';
import * as inspect from './commands/inspect.js';
import * as introspect from './commands/introspect.js';
import * as keys from './commands/keys.js';
import * as pki from './commands/pki.js';
import * as probe from './commands/probe.js';
import * as resource from './commands/resource.js';
import * as sts from './commands/sts.js';
import * as thumbprint from './commands/thumbprint.js';
import * as wait from './commands/wait.js';
import type { Command } from './command.js';

export type { Command } from './command.js';

/** Every command by name: drives dispatch, `certbound --help` and shell completion. */
export const COMMANDS: Readonly<Record<string, Command>> = {
  demo: { run: demo.run, usage: demo.usage, summary: 'the whole story on loopback' },
  pki: {
    run: pki.run,
    usage: pki.usage,
    summary: 'a development PKI: init, issue a certificate, revoke one',
    subcommands: ['init', 'issue', 'revoke'],
  },
  sts: { run: sts.run, usage: sts.usage, summary: 'run the token-exchange STS' },
  keys: { run: keys.run, usage: keys.usage, summary: 'manage the STS signing keystore', subcommands: ['generate', 'list', 'rotate'] },
  resource: { run: resource.run, usage: resource.usage, summary: 'run a resource server that requires bound tokens' },
  authz: {
    run: authz.run,
    usage: authz.usage,
    summary: "the authorization server a gateway asks; config prints the gateway's",
    subcommands: ['config'],
  },
  token: { run: client.runToken, usage: client.tokenUsage, summary: 'exchange a subject token for a bound token' },
  call: { run: call.run, usage: call.usage, summary: 'get a bound token and call a URL with it' },
  probe: { run: probe.run, usage: probe.usage, summary: 'check a deployment enforces bound tokens' },
  'grpc-server': { run: grpc.runServer, usage: grpc.serverUsage, summary: 'run the echo gRPC server behind the interceptor' },
  'grpc-call': { run: grpc.runCall, usage: grpc.callUsage, summary: 'call the echo gRPC server with STS call credentials' },
  thumbprint: { run: thumbprint.run, usage: thumbprint.usage, summary: "print a certificate's x5t#S256" },
  inspect: { run: inspect.run, usage: inspect.usage, summary: 'decode a token; check its binding and signature' },
  introspect: { run: introspect.run, usage: introspect.usage, summary: 'ask the STS about a token (RFC 7662)' },
  wait: { run: wait.run, usage: wait.usage, summary: 'wait until servers accept connections' },
  // Its script is made from this very table, given to it when it runs.
  completion: { run: (argv) => completion.run(argv, COMMANDS), usage: completion.usage, summary: 'print a bash or zsh completion script' },
};
