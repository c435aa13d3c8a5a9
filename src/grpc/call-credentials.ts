import { credentials, Metadata, type CallCredentials, type ChannelCredentials } from '@grpc/grpc-js';
import * as v from 'valibot';
import type { ClientIdentity, ClientIdentitySnapshot } from '../client/client-identity.js';
import type { ClientTlsOptions } from '../client/mtls-agent.js';
import { createTokenSource, type TokenSource, type TokenSourceOptions } from '../client/token-source.js';
import { isPlainObject, madeBy, parseOptions } from '../core/schema.js';
import { mtlsChannelCredentials } from './channel-credentials.js';
import { createRotatingClient, type RotatingClient } from './rotating-client.js';
import { callCredentialsError } from './status.js';

/**
 * Per-RPC credentials that put `authorization: Bearer <token>` on every call, the token coming
 * from a certbound token source (cached, refreshed before expiry, one exchange shared by
 * concurrent calls). A failed exchange fails the RPC with UNAVAILABLE (STS unreachable, timed
 * out, 5xx) or UNAUTHENTICATED (STS refused, subject token unreadable), with the reason in the
 * details: never UNKNOWN, never a hang (the token source has a timeout).
 *
 * The token is bound to the certificate the token source used at the STS: combine these with
 * channel credentials built from the same certificate, or use createStsCredentials, which does.
 * Given `snapshot`, the token is the one bound to that snapshot of the source's identity: give the
 * snapshot the channel credentials were built from, and the two can never disagree.
 */
export function createCallCredentials(tokens: TokenSource, snapshot?: ClientIdentitySnapshot): CallCredentials {
  parseOptions(madeBy<TokenSource>('getToken', '"tokens" must come from createTokenSource()'), tokens);
  const token = snapshot === undefined ? () => tokens.getToken() : async () => (await tokens.getTokenFor(snapshot)).accessToken;
  return credentials.createFromMetadataGenerator((_context, callback) => {
    token().then(
      (value) => {
        const metadata = new Metadata();
        metadata.set('authorization', `Bearer ${value}`);
        callback(null, metadata);
      },
      (error: unknown) => callback(callCredentialsError(error)),
    );
  });
}

/** The token source's options, with the certificate given as `tls` or `identity` (never an agent: the channel needs the certificate itself). */
export interface StsCredentialsOptions extends Omit<TokenSourceOptions, 'tls' | 'agent' | 'identity'> {
  /**
   * The client certificate, key and CA, used for both the gRPC channel and the STS exchange: the
   * one certificate the token is bound to and the gRPC server checks it against. `servername`
   * here applies to the STS; the channel's is a channel option (`grpc.ssl_target_name_override`).
   * Give this or `identity`.
   */
  tls?: ClientTlsOptions;
  /** A client identity that may change (watchClientIdentity): channels and tokens follow it. */
  identity?: ClientIdentity;
}

export interface StsCredentials {
  /**
   * mTLS channel credentials combined with the STS call credentials, both from the identity's
   * current snapshot: give these to a client. A client keeps them for its life, so to follow a
   * rotation build clients with createClient().
   */
  readonly channelCredentials: ChannelCredentials;
  /** The same, for one snapshot of the identity. */
  channelCredentialsFor(snapshot: ClientIdentitySnapshot): ChannelCredentials;
  /**
   * A client built by `build` from the current channel credentials, rebuilt when the identity
   * changes (the previous one is closed once its calls have had time to finish).
   */
  createClient<C extends { close(): void }>(build: (channelCredentials: ChannelCredentials) => C): RotatingClient<C>;
  /** The call credentials alone (for the current certificate), to combine with channel credentials of your own. */
  callCredentials: CallCredentials;
  tokens: TokenSource;
  identity: ClientIdentity;
  /** Close the STS connection pool (and an identity made from `tls`). */
  close(): Promise<void>;
}

/**
 * What gRPC's own STS credentials should have been (grpc-go #5099): the token exchange runs over
 * mutual TLS with the same client certificate as the gRPC channel, so the STS can bind the token
 * and the gRPC server can check the binding.
 *
 * @example
 * const sts = createStsCredentials({ stsUrl: 'https://sts.domain.com:8081', tls: { ca, cert, key },
 *   subjectTokenFile: '/var/run/secrets/tokens/sts', audience: 'https://grpc.domain.com:50051' });
 * const client = new EchoServer('grpc.domain.com:50051', sts.channelCredentials);
 */
export function createStsCredentials(options: StsCredentialsOptions): StsCredentials {
  parseOptions(
    v.pipe(
      v.custom<Record<string, unknown>>(isPlainObject, 'STS credentials options must be an object'),
      v.check((input) => (input.tls === undefined) !== (input.identity === undefined), 'give exactly one of "tls" and "identity"'),
      v.check(
        (input) => input.agent === undefined,
        '"agent" is not an option: the gRPC channel needs the certificate itself ("tls" or "identity")',
      ),
    ),
    options,
  );
  const tokens = createTokenSource(options);
  const identity = tokens.identity as ClientIdentity;
  const built = new WeakMap<ClientIdentitySnapshot, ChannelCredentials>();
  const channelCredentialsFor = (snapshot: ClientIdentitySnapshot): ChannelCredentials => {
    let channel = built.get(snapshot);
    if (channel === undefined) {
      channel = credentials.combineChannelCredentials(mtlsChannelCredentials(snapshot), createCallCredentials(tokens, snapshot));
      built.set(snapshot, channel);
    }
    return channel;
  };
  const clients = new Set<RotatingClient<{ close(): void }>>();
  return {
    get channelCredentials() {
      return channelCredentialsFor(identity.current());
    },
    channelCredentialsFor,
    createClient(build) {
      const client = createRotatingClient(identity, (snapshot) => build(channelCredentialsFor(snapshot)));
      clients.add(client);
      return client;
    },
    callCredentials: createCallCredentials(tokens),
    tokens,
    identity,
    async close() {
      for (const client of clients) client.close();
      await tokens.close();
    },
  };
}
