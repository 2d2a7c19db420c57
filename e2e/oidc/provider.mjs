// The OpenID Provider Wharf's tests sign in through: oidc-provider (OpenID Certified), run with
// the machine's Node.js. One confidential client (`wharf`), PKCE required, a `groups` claim, and
// the provider's own login and consent pages (its development interactions: any password of a
// known user signs in). Settings come from the environment:
//   OIDC_PORT          the port on 127.0.0.1 (the issuer is http://127.0.0.1:<port>)
//   OIDC_REDIRECT_URI  Wharf's callback
//   OIDC_KEY_ID        the signing key's id: a restart with another id rotates the key
//   OIDC_ID_TOKEN_TTL  seconds an ID token lives (default 3600)
import Provider from 'oidc-provider';
import { generateKeyPair, exportJWK } from 'jose';

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;

// Users and their groups (the groups claim).
const users = {
  alice: { name: 'Alice Archer', groups: ['developers'] },
  bob: { name: 'Bob Baker', groups: ['ops'] },
  carol: { name: 'Carol Cooper', groups: ['wharf-admins'] },
};

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid: process.env.OIDC_KEY_ID || 'key-1', alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'wharf',
      client_secret: 'wharf-client-secret',
      redirect_uris: [process.env.OIDC_REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  async findAccount(ctx, id) {
    const user = users[id];
    if (!user) return undefined;
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          preferred_username: id,
          name: user.name,
          email: `${id}@wharf.test`,
          email_verified: true,
          groups: user.groups,
        };
      },
    };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
  // The requested claims go into the ID token itself, as most providers Wharf meets do.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  jwks: { keys: [jwk] },
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  ttl: { IdToken: Number(process.env.OIDC_ID_TOKEN_TTL || 3600) },
  // A refresh token for every code exchange the client may refresh, offline_access or not.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
});

provider.listen(port, '127.0.0.1', () => console.log(`ready ${issuer}`));
