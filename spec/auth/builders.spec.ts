import { Auth } from '../../lib';
import { expectThrowsInvalid } from '../helpers/fixtures';

describe('Auth builders: the spec wire format', () => {
  it.each([
    ['dummy', Auth.dummy(), { type: 'm.login.dummy' }],
    ['token', Auth.token('tok'), { type: 'm.login.token', token: 'tok' }],
    ['recaptcha', Auth.recaptcha('resp'), { type: 'm.login.recaptcha', response: 'resp' }],
    ['password', Auth.password('alice', 'pw'), { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: 'pw' }],
    [
      'passwordByThreepid',
      Auth.passwordByThreepid('msisdn', '447700900123', 'pw'),
      { type: 'm.login.password', identifier: { type: 'm.id.thirdparty', medium: 'msisdn', address: '447700900123' }, password: 'pw' },
    ],
    [
      'passwordByPhone',
      Auth.passwordByPhone('FR', '0612345678', 'pw'),
      { type: 'm.login.password', identifier: { type: 'm.id.phone', country: 'FR', phone: '0612345678', number: '0612345678' }, password: 'pw' },
    ],
    [
      'emailIdentity',
      Auth.emailIdentity({ sid: 'sid', clientSecret: 'cs.1=_-' }),
      { type: 'm.login.email.identity', threepid_creds: { sid: 'sid', client_secret: 'cs.1=_-' } },
    ],
    [
      'msisdn with an identity server',
      Auth.msisdn({ sid: 'sid', clientSecret: 'cs', idServer: 'id.example.org', idAccessToken: 'iat' }),
      { type: 'm.login.msisdn', threepid_creds: { sid: 'sid', client_secret: 'cs', id_server: 'id.example.org', id_access_token: 'iat' } },
    ],
    ['registrationToken', Auth.registrationToken('invite'), { type: 'm.login.registration_token', token: 'invite' }],
    ['terms', Auth.terms(), { type: 'm.login.terms' }],
    ['withSession', Auth.withSession(Auth.dummy(), 'S1'), { type: 'm.login.dummy', session: 'S1' }],
  ])('%s', (_name, built, wire) => {
    // JSON round trip: what goes on the wire, with undefined fields dropped.
    expect(JSON.parse(JSON.stringify(built))).toEqual(wire);
  });

  it('passwords keep spaces and line breaks; other strings must be single-line', () => {
    expect(Auth.password('alice', ' p w\n').password).toBe(' p w\n');
    expectThrowsInvalid(() => Auth.password('ali\nce', 'pw'), 'user');
  });

  it('withSession does not modify the answer it was given', () => {
    const base = Auth.terms();
    Auth.withSession(base, 'S');
    expect(base).toEqual({ type: 'm.login.terms' });
  });

  it.each([
    ['token', () => Auth.token(''), 'token'],
    ['recaptcha', () => Auth.recaptcha(undefined as unknown as string), 'response'],
    ['password user', () => Auth.password('', 'pw'), 'user'],
    ['password', () => Auth.password('alice', ''), 'password'],
    ['password type', () => Auth.password('alice', 1 as unknown as string), 'password'],
    ['medium', () => Auth.passwordByThreepid('fax' as 'email', 'x', 'pw'), 'medium'],
    ['address', () => Auth.passwordByThreepid('email', '', 'pw'), 'address'],
    ['country (lower case)', () => Auth.passwordByPhone('gb', '0770', 'pw'), 'country'],
    ['country (unknown)', () => Auth.passwordByPhone('ZZ', '0770', 'pw'), 'country'],
    ['phone', () => Auth.passwordByPhone('GB', '', 'pw'), 'phone'],
    ['sid', () => Auth.emailIdentity({ sid: '', clientSecret: 'cs' }), 'sid'],
    ['clientSecret', () => Auth.emailIdentity({ sid: 's', clientSecret: 'has space' }), 'clientSecret'],
    ['idServer', () => Auth.msisdn({ sid: 's', clientSecret: 'cs', idServer: '' }), 'idServer'],
    ['registration token (too long)', () => Auth.registrationToken('x'.repeat(65)), 'token'],
    ['session', () => Auth.withSession(Auth.dummy(), ''), 'session'],
  ])('refuses a bad %s', (_what, fn, parameter) => {
    // The error names the parameter and the rule, never the value (it may be a secret).
    expectThrowsInvalid(fn, parameter);
  });

  it('never echoes the refused value in the error message', () => {
    let message = '';
    try {
      Auth.emailIdentity({ sid: 's', clientSecret: 'top secret' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^Invalid clientSecret: /);
    expect(message).not.toContain('top secret');
  });
});
