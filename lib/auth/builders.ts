import { check } from '../core/validate';

/** An `auth` dictionary: a login body, or one answer to a user-interactive-auth stage. */
export interface AuthDict {
  /** The login type or UIA stage, e.g. `m.login.password`. */
  type: string;
  /** The UIA session ID from the server's 401 (`runUia` sets it). */
  session?: string;
  [field: string]: unknown;
}

/** A validated 3PID session, as a `threepid.request*Token` call started it (in camelCase; sent as `threepid_creds`). */
export interface ThreepidCreds {
  /** The validation session's ID (`sid` of the requestToken answer). */
  sid: string;
  /** The client secret the requestToken call was made with. */
  clientSecret: string;
  /** Only when an identity server did the validation. */
  idServer?: string;
  /** An access token for that identity server; only with `idServer`. */
  idAccessToken?: string;
}

function threepidCreds(c: ThreepidCreds) {
  check.string('sid', c.sid, { max: 255 });
  check.clientSecret('clientSecret', c.clientSecret);
  check.optional(c.idServer, (v) => check.string('idServer', v, { max: 255 }));
  check.optional(c.idAccessToken, (v) => check.string('idAccessToken', v, { max: 4096 }));
  return { sid: c.sid, client_secret: c.clientSecret, id_server: c.idServer, id_access_token: c.idAccessToken };
}

/** The fields of an auth dictionary that hold a secret (a password, a login or registration token). */
const SECRET_FIELDS = ['password', 'token'] as const;

/**
 * The secrets an auth dictionary carries, for a request's `secrets`: the core redacts them
 * from anything the server echoes into an error.
 */
export function authSecrets(auth: AuthDict | undefined): string[] {
  if (typeof auth !== 'object' || auth === null) return [];
  return SECRET_FIELDS.map((field) => auth[field]).filter((v): v is string => typeof v === 'string');
}

/**
 * Builders for login bodies and UIA stage answers, in the spec's wire format.
 * `Auth.password('alice', 'pw')` works for `account.login` and for any UIA endpoint.
 */
export const Auth = {
  /** The m.login.dummy stage: nothing to prove (a registration flow's last step). */
  dummy: (): AuthDict => ({ type: 'm.login.dummy' }),

  /** A login token (m.login.token), e.g. from SSO or `login/get_token`. */
  token: (token: string): AuthDict => ({ type: 'm.login.token', token: check.string('token', token, { max: 4096 }) }),

  /** The m.login.recaptcha stage, with the response the ReCAPTCHA widget gave. */
  recaptcha: (response: string): AuthDict => ({
    type: 'm.login.recaptcha',
    response: check.string('response', response, { max: 65536 }),
  }),

  /** Password for a user, by localpart or full user ID. */
  password: (user: string, password: string): AuthDict => ({
    type: 'm.login.password',
    identifier: { type: 'm.id.user', user: check.string('user', user, { max: 255 }) },
    password: check.string('password', password, { max: 4096, multiline: true }),
  }),

  /** Password for the account that owns a third-party ID (an email address). */
  passwordByThreepid: (medium: 'email' | 'msisdn', address: string, password: string): AuthDict => ({
    type: 'm.login.password',
    identifier: {
      type: 'm.id.thirdparty',
      medium: check.oneOf('medium', medium, ['email', 'msisdn'] as const),
      address: check.string('address', address, { max: 320 }),
    },
    password: check.string('password', password, { max: 4096, multiline: true }),
  }),

  /** Password for the account that owns a phone number, given as country + number. */
  passwordByPhone: (country: string, phone: string, password: string): AuthDict => {
    check.country('country', country);
    check.string('phone', phone, { max: 32 });
    return {
      type: 'm.login.password',
      // `number` is the pre-r0 spelling of `phone`. Synapse (1.163) still needs it: it reads
      // the old key first and refuses a body without it ("Missing JSON keys"). Both are sent.
      identifier: { type: 'm.id.phone', country, phone, number: phone },
      password: check.string('password', password, { max: 4096, multiline: true }),
    };
  },

  /** A validated email session (m.login.email.identity). */
  emailIdentity: (creds: ThreepidCreds): AuthDict => ({ type: 'm.login.email.identity', threepid_creds: threepidCreds(creds) }),

  /** A validated phone-number session (m.login.msisdn). */
  msisdn: (creds: ThreepidCreds): AuthDict => ({ type: 'm.login.msisdn', threepid_creds: threepidCreds(creds) }),

  /** The m.login.registration_token stage: a token the server admin handed out (at most 64 characters). */
  registrationToken: (token: string): AuthDict => ({
    type: 'm.login.registration_token',
    token: check.string('token', token, { max: 64 }),
  }),

  /** The m.login.terms stage: the user accepts the policies in the challenge's `params`. */
  terms: (): AuthDict => ({ type: 'm.login.terms' }),

  /** The same answer, attached to a UIA session. */
  withSession: (auth: AuthDict, session: string): AuthDict => ({ ...auth, session: check.string('session', session, { max: 255 }) }),
};
