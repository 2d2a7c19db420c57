// The OpenID Provider Wharf's tests sign in through: oidc-provider (OpenID Certified), run with
// the machine's Node.js. One confidential client (`wharf`), PKCE required, a `groups` claim, and
// the provider's own login and consent pages (its development interactions: any password of a
// known user signs in). Settings come from the environment:
//   OIDC_PORT          the port on 127.0.0.1 (the issuer is http://127.0.0.1:<port>)
//   OIDC_REDIRECT_URI  Wharf's callback
//   OIDC_KEY_ID        the signing key's id: a restart with another id rotates the key
//   OIDC_TOKEN_TTL     seconds ID and access tokens live (default 3600)
// Two routes let a test act as the provider's operator would, or as a broken provider:
//   POST /test/end-sessions?account=alice   revokes the account's grants (its refresh tokens
//                                           stop working), as signing the user out everywhere
//   POST /test/id-tokens?mode=M             the ID tokens the token endpoint answers from now:
//                                           genuine, tampered (claims changed after signing),
//                                           expired, wrong-audience, foreign-key (signed with
//                                           another key under the same key id)
//   POST /test/groups?account=alice&groups=a,b   the account's groups from now
import Provider from 'oidc-provider';
import { generateKeyPair, exportJWK, SignJWT, decodeJwt } from 'jose';

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;

// Users and their groups (the groups claim); any other login is a user in no group.
const users = {
  alice: { name: 'Alice Archer', groups: ['developers'] },
  bob: { name: 'Bob Baker', groups: ['ops'] },
  carol: { name: 'Carol Cooper', groups: ['wharf-admins'] },
};

const kid = process.env.OIDC_KEY_ID || 'key-1';
const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
const ttl = Number(process.env.OIDC_TOKEN_TTL || 3600);

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'wharf',
      client_secret: 'wharf-client-secret',
      redirect_uris: [process.env.OIDC_REDIRECT_URI],
      // Signing out comes back to Wharf's sign-in page.
      post_logout_redirect_uris: [process.env.OIDC_REDIRECT_URI.replace('/c/oidc/callback', '/login')],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  async findAccount(ctx, id) {
    // Any other login is a user without groups (tests sign in users of their own).
    const user = users[id] ?? { name: id, groups: [] };
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
  ttl: { IdToken: ttl, AccessToken: ttl },
  // A refresh token for every code exchange the client may refresh, offline_access or not.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
});

// Grants by account, for /test/end-sessions.
const grants = new Map();
provider.on('grant.saved', (grant) => {
  if (!grants.has(grant.accountId)) grants.set(grant.accountId, new Set());
  grants.get(grant.accountId).add(grant.jti);
});

let idTokens = 'genuine';

async function forged(token, mode) {
  const claims = decodeJwt(token);
  const now = Math.floor(Date.now() / 1000);
  const sign = async (payload, key) =>
    new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid }).sign(key);
  switch (mode) {
    case 'tampered': {
      // The user claims the admin group after the provider signed the token.
      const [header, , signature] = token.split('.');
      const payload = Buffer.from(JSON.stringify({ ...claims, groups: ['wharf-admins'] })).toString('base64url');
      return `${header}.${payload}.${signature}`;
    }
    case 'expired':
      return sign({ ...claims, iat: now - 7200, exp: now - 3600 }, privateKey);
    case 'wrong-audience':
      return sign({ ...claims, aud: 'another-client' }, privateKey);
    case 'foreign-key':
      return sign(claims, (await generateKeyPair('RS256')).privateKey);
    default:
      return token;
  }
}

provider.use(async (ctx, next) => {
  if (ctx.method === 'POST' && ctx.path === '/test/end-sessions') {
    const account = ctx.query.account;
    for (const jti of grants.get(account) ?? []) {
      const grant = await provider.Grant.find(jti);
      if (grant) await grant.destroy();
    }
    grants.delete(account);
    ctx.status = 204;
    return;
  }
  if (ctx.method === 'POST' && ctx.path === '/test/groups') {
    users[ctx.query.account].groups = ctx.query.groups ? ctx.query.groups.split(',') : [];
    ctx.status = 204;
    return;
  }
  if (ctx.method === 'POST' && ctx.path === '/test/id-tokens') {
    idTokens = ctx.query.mode;
    ctx.status = 204;
    return;
  }
  await next();
  if (ctx.path === '/token' && ctx.body && ctx.body.id_token && idTokens !== 'genuine') {
    ctx.body = { ...ctx.body, id_token: await forged(ctx.body.id_token, idTokens) };
  }
});

provider.listen(port, '127.0.0.1', () => console.log(`ready ${issuer}`));
