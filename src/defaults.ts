/**
 * Every default of certbound, in one place, each with its reason. Library options, configuration
 * files and CLI flags all fall back to these; docs/configuration.md and docs/cli.md quote them.
 * This module imports nothing, so every layer may read it.
 */
export const DEFAULTS = {
  /** Limits of every certbound server (HTTPS and gRPC): docs/cli.md "Limits and revocation". */
  server: {
    /** Generous for any real client on a slow link, short enough that idle sockets are reclaimed. */
    headersTimeoutMs: 10_000,
    /** A token request is a few hundred bytes: 30 s is already very patient. */
    requestTimeoutMs: 30_000,
    /** Slightly above common client pools' idle timeouts (undici 4 s) to avoid reset races. */
    keepAliveTimeoutMs: 5_000,
    /** Node's own default; a bearer token of a few KiB fits many times over. */
    maxHeaderSize: 16 * 1024,
    /** Far above what two cores serve at once; a queue longer than this only adds latency. */
    maxInFlight: 1024,
    /**
     * From accept to a finished TLS handshake. Unless set, it is the headers timeout: both bound
     * a silent peer. Node's own default (120 s) lets idle sockets pile up.
     */
    handshakeTimeoutMs: 10_000,
    /**
     * Far above the pools of a fleet of clients, low enough that idle connections (tens of KiB of
     * TLS state each) cannot exhaust memory. Per process: with --workers N, N times this.
     */
    maxConnections: 4096,
    /** On SIGTERM, in-flight requests get this long before connections are dropped. */
    drainTimeoutMs: 10_000,
    /**
     * Followed files (TLS material, CRLs, a JWKS file, a keystore) are compared this long after
     * the first change seen: the renames of one Kubernetes secret update land within a few
     * milliseconds, and a certificate then its key copied by hand usually within this.
     */
    watchDebounceMs: 300,
    /** Servers listen on loopback unless told otherwise: exposing one is a decision. */
    host: '127.0.0.1',
    /** The oldest TLS version any certbound server or client accepts, whatever the runtime's default. */
    tlsMinVersion: 'TLSv1.2',
    /** A shed request is answered at once; a second later the queue has usually drained. */
    overloadedRetryAfterSeconds: 1,
  },
  /** The STS (RFC 8693 / RFC 6749 token endpoint). */
  sts: {
    /** The port of the seed's write-up and of the dev PKI's issuer. */
    port: 8081,
    /** RFC 9068 leaves it to the issuer; an hour bounds a stolen token's life without churn. */
    accessTokenLifetimeSeconds: 3600,
    /** The longest lifetime anything may ask for: a day. */
    maxAccessTokenLifetimeSeconds: 86_400,
    /** A token request is a few hundred bytes; 16 KiB leaves room for long subject tokens. */
    bodyLimitBytes: 16 * 1024,
    /** Far above what any real token request needs; refused beyond it with 413. */
    maxBodyLimitBytes: 1024 * 1024,
    /** RFC 8693 §2.2.2 answers a refused subject token with invalid_request. */
    subjectTokenError: 'invalid_request',
    /** The seed's clients send no client_id; RFC 8705 §2 lets the certificate identify them. */
    requireClientId: false,
    /** Discovery (RFC 8414) looks for the metadata at the issuer; say so when it is elsewhere. */
    issuerMetadataElsewhere: false,
    /**
     * Per client certificate, on /token and /introspect: far above what a client with a token
     * cache needs, low enough that one certificate cannot monopolise the signing key.
     */
    rateLimit: { perSecond: 50, burst: 100 },
    /** Clients tracked by the rate limiter: beyond it the least recently seen is forgotten (a fresh bucket). */
    rateLimitMaxKeys: 10_000,
    /** Clock skew allowed for JWT subject and actor tokens from trusted issuers. */
    subjectTokenClockToleranceSeconds: 30,
    /** The metadata document changes only with a restart: clients may cache it briefly. */
    metadataMaxAgeSeconds: 300,
    /** The longest a JWKS may be cached, and never past the next scheduled key change. */
    jwksMaxAgeSeconds: 300,
    /** More distinct parameters than any grant defines is an attack, not a request. */
    maxParameters: 64,
  },
  /** Verifying bound tokens at a resource (HTTP adapters, gRPC interceptor, `certbound resource`). */
  verification: {
    /** Enough for NTP-synced hosts, short enough not to extend a token's life. */
    clockToleranceSeconds: 30,
    /** Larger skews defeat expiry; refused at construction. */
    maxClockToleranceSeconds: 300,
    /**
     * The CLI servers cache verifications: the benchmark measured 63-70% verification overhead
     * without the cache, 8-21% with it (docs/benchmarks.md). The library's cache is opt-in.
     */
    tokenCacheEntries: 10_000,
    /** The library cache's size when none is given: a few MB, enough for thousands of active clients. */
    cacheMaxEntries: 10_000,
    /**
     * A verified token is trusted again for at most this long, and never past its exp. It bounds
     * how long a token stays accepted after its signing key leaves the JWKS: keep it short.
     */
    cacheMaxAgeSeconds: 60,
    /** Proxies in front of the resource that each append an XFCC element (Envoy: one). */
    xfccHops: 1,
    /** Certificate facts (subject, SANs) parsed once per certificate, across connections. */
    certificateFactsEntries: 1024,
    /** Compiled SPIFFE ID patterns of the policy: a policy has far fewer; reloads bring new ones. */
    spiffePatternEntries: 1024,
    /** A resource whose keys are unavailable asks clients to come back after this long. */
    keysUnavailableRetryAfterSeconds: 5,
    /** RFC 9728 metadata changes only with a restart. */
    resourceMetadataMaxAgeSeconds: 3600,
  },
  /** A JWKS fetched from an https URL. */
  jwks: {
    /** Keys older than this are refreshed in the background. */
    cacheMaxAgeMs: 5 * 60_000,
    /** Least time between two fetches caused by unknown kids or failures. */
    cooldownMs: 30_000,
    /** During an outage the last good keys keep verifying this long, then every token is refused. */
    maxStalenessMs: 60 * 60_000,
    /** Per fetch. */
    timeoutMs: 5_000,
  },
  /** The STS signing keystore (certbound keys). */
  keystore: {
    /** Longer than any JWKS cache certbound's resource servers keep (jose: 10 min) plus slack. */
    publishAheadSeconds: 900,
    /** The STS default token lifetime: the retired key stays published this long after it stops signing. */
    maxTokenLifetimeSeconds: 3600,
    /** How often a running STS looks for a changed keystore (SIGHUP reloads at once). */
    reloadIntervalMs: 5000,
    /** A retired key stays published this much longer than the tokens it signed could live: resource clocks drift. */
    clockSkewSeconds: 60,
  },
  /** gRPC servers and calls. */
  grpc: {
    /** HTTP/2's own recommended minimum; more only lets one client hog the server. */
    maxConcurrentStreams: 100,
    /** Echo requests are names: 64 KiB is plenty. */
    maxReceiveMessageBytes: 64 * 1024,
    /**
     * An Envoy CheckRequest carries every request header (Envoy's own limit is 60 KiB) and the
     * client certificate: twice that, so that no request Envoy accepted is refused for its size.
     */
    checkRequestMaxBytes: 128 * 1024,
    /** Served without a token: health checks must work before tokens do. */
    exempt: ['grpc.health.v1.Health'],
    /** One RPC of `certbound grpc-call`, STS exchange included (the exchange itself times out at 10 s). */
    callDeadlineMs: 20_000,
  },
  /** The client token source (and the gRPC call credentials built on it). */
  client: {
    /** Refresh this long before expiry (at most half the token's lifetime for short-lived tokens). */
    refreshWindowSeconds: 60,
    /** An STS that does not answer within this (all attempts together) is unavailable. */
    timeoutMs: 10_000,
    /** Retries of an exchange after a reset or refused connection, a 503 or a 429. */
    retries: 2,
    /** First retry delay; doubled each time, with jitter. */
    retryBaseDelayMs: 100,
    /** No retry waits longer than this (a longer Retry-After ends the attempts). */
    retryMaxDelayMs: 2_000,
    /**
     * After a client certificate rotation, a gRPC client of the previous certificate is closed this
     * long after its replacement is built: longer than any call takes to get its connection (the
     * STS exchange times out at 10 s), and calls under way finish on their connections anyway.
     */
    rotationDrainMs: 30_000,
  },
  /** The development PKI (certbound pki). */
  pki: {
    /** Backdate notBefore so a peer whose clock runs a little behind still accepts new certificates. */
    backdateMs: 5 * 60 * 1000,
  },
} as const;
