import { credentials, Metadata, type CallCredentials, type ChannelCredentials } from '@grpc/grpc-js';
import { createMtlsAgent, type ClientTlsOptions } from '../client/mtls-agent.js';
import { createTokenSource, type TokenSource, type TokenSourceOptions } from '../client/token-source.js';
import * as v from 'valibot';
import { isPlainObject, madeBy, parseOptions } from '../core/schema.js';
import { mtlsChannelCredentials } from './channel-credentials.js';
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
 */
export function createCallCredentials(tokens: TokenSource): CallCredentials {
  parseOptions(madeBy<TokenSource>('getToken', '"tokens" must come from createTokenSource()'), tokens);
  return credentials.createFromMetadataGenerator((_context, callback) => {
    tokens.getToken().then(
      (token) => {
        const metadata = new Metadata();
        metadata.set('authorization', `Bearer ${token}`);
        callback(null, metadata);
      },
      (error: unknown) => callback(callCredentialsError(error)),
    );
  });
}

export interface StsCredentialsOptions extends Omit<TokenSourceOptions, 'tls' | 'agent'> {
  /**
   * The client certificate, key and CA, used for both the gRPC channel and the STS exchange: the
   * one certificate the token is bound to and the gRPC server checks it against. `servername`
   * here applies to the STS; the channel's is a channel option (`grpc.ssl_target_name_override`).
   */
  tls: ClientTlsOptions;
}

export interface StsCredentials {
  /** mTLS channel credentials combined with the STS call credentials: give these to the client. */
  channelCredentials: ChannelCredentials;
  /** The call credentials alone, to combine with channel credentials of your own. */
  callCredentials: CallCredentials;
  tokens: TokenSource;
  /** Close the STS connection pool. */
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
  parseOptions(v.custom<object>(isPlainObject, 'STS credentials options must be an object'), options);
  const { tls, ...rest } = options;
  const agent = createMtlsAgent(tls);
  let tokens: TokenSource;
  try {
    tokens = createTokenSource({ ...rest, agent });
  } catch (error) {
    void agent.close();
    throw error;
  }
  const callCredentials = createCallCredentials(tokens);
  const channel = mtlsChannelCredentials(tls);
  return {
    channelCredentials: credentials.combineChannelCredentials(channel, callCredentials),
    callCredentials,
    tokens,
    close: () => agent.close(),
  };
}
