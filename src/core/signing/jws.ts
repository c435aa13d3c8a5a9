import type { AccessTokenClaims } from '../claims.js';
import { ACCESS_TOKEN_JWT_TYP } from '../rfc.js';
import type { Signer } from './signer.js';

/**
 * Sign access-token claims as an RFC 9068 JWT in the JWS Compact Serialization (RFC 7515 §7.1):
 *
 *   BASE64URL(UTF8(header)) '.' BASE64URL(UTF8(JSON(claims))) '.' BASE64URL(signature)
 *
 * with the protected header `{"alg","kid","typ":"at+jwt"}`. The signer signs the ASCII bytes of
 * the first two parts (RFC 7515 §5.1) and returns the signature in its JWS form (see `Signer`).
 * This is the only JWS certbound writes; it never parses one (jose verifies every token).
 *
 * @see https://www.rfc-editor.org/rfc/rfc7515#section-7.1
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-2.1
 */
export async function signAccessToken(claims: AccessTokenClaims, signer: Signer): Promise<string> {
  const header = base64url(JSON.stringify({ alg: signer.alg, kid: signer.kid, typ: ACCESS_TOKEN_JWT_TYP }));
  const signingInput = `${header}.${base64url(JSON.stringify(claims))}`;
  const signature = await signer.sign(Buffer.from(signingInput, 'ascii'));
  return `${signingInput}.${Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength).toString('base64url')}`;
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
