import { Auth, MatrixError, runUia, ValidationError, type AuthDict, type UiaAuth, type UiaContext } from '../../lib';
import { checkUiaAuth } from '../../lib/auth/uia';

const TARGET = { method: 'POST', path: '/_matrix/client/v3/register' };
const challenge = (body: Record<string, unknown>) => new MatrixError(TARGET, 401, body);

/**
 * A scripted server: each call to `send` records the auth it was given and answers with the
 * next scripted reply (a value to return, or an error to throw).
 */
function server(...replies: Array<Record<string, unknown> | Error>) {
  const sent: Array<AuthDict | undefined> = [];
  const send = async (auth: AuthDict | undefined) => {
    sent.push(auth);
    const reply = replies.shift();
    if (reply === undefined) throw new Error('the test server got more requests than scripted');
    if (reply instanceof Error) throw reply;
    return reply;
  };
  return { sent, send };
}

const OK = { user_id: '@a:example.org' };
const flows = (...stages: string[][]) => stages.map((s) => ({ stages: s }));

describe('runUia', () => {
  it('sends a ready AuthDict with the first request: one round trip when the server accepts it', async () => {
    const { sent, send } = server(OK);
    await expect(runUia(send, Auth.dummy())).resolves.toBe(OK);
    expect(sent).toEqual([{ type: 'm.login.dummy' }]);
  });

  it('sends nothing first when given a map or a function, then answers the challenge with its session', async () => {
    const { sent, send } = server(challenge({ session: 'S', flows: flows(['m.login.dummy']) }), OK);
    await runUia(send, { 'm.login.dummy': Auth.dummy() });
    expect(sent).toEqual([undefined, { type: 'm.login.dummy', session: 'S' }]);
  });

  it('omits the session when the server gave none', async () => {
    const { sent, send } = server(challenge({ flows: flows(['m.login.dummy']) }), OK);
    await runUia(send, () => Auth.dummy());
    expect(sent[1]).toEqual({ type: 'm.login.dummy' });
  });

  it('carries the session through every stage of a multi-stage flow, following `completed`', async () => {
    const f = flows(['m.login.recaptcha', 'm.login.terms', 'm.login.dummy']);
    const { sent, send } = server(
      challenge({ session: 'S', flows: f }),
      challenge({ session: 'S', flows: f, completed: ['m.login.recaptcha'] }),
      challenge({ session: 'S', flows: f, completed: ['m.login.recaptcha', 'm.login.terms'] }),
      OK,
    );
    await runUia(send, { 'm.login.recaptcha': Auth.recaptcha('r'), 'm.login.terms': Auth.terms(), 'm.login.dummy': Auth.dummy() });
    expect(sent).toEqual([
      undefined,
      { type: 'm.login.recaptcha', response: 'r', session: 'S' },
      { type: 'm.login.terms', session: 'S' },
      { type: 'm.login.dummy', session: 'S' },
    ]);
  });

  it('chooses among flows by what the caller can answer', async () => {
    const { sent, send } = server(challenge({ session: 'S', flows: flows(['m.login.email.identity'], ['m.login.dummy']) }), OK);
    await runUia(send, { 'm.login.dummy': Auth.dummy() });
    expect(sent[1]).toMatchObject({ type: 'm.login.dummy' });
  });

  it('prefers a flow the caller can finish over one it can only start', async () => {
    // Flow 1 starts with a stage we can answer but needs one we cannot; flow 2 we can finish.
    const f = flows(['m.login.recaptcha', 'm.login.email.identity'], ['m.login.registration_token']);
    const { sent, send } = server(challenge({ session: 'S', flows: f }), OK);
    await runUia(send, { 'm.login.recaptcha': Auth.recaptcha('r'), 'm.login.registration_token': Auth.registrationToken('t') });
    expect(sent[1]).toEqual({ type: 'm.login.registration_token', token: 't', session: 'S' });
  });

  it('skips flows that do not contain the stages already completed', async () => {
    const f = flows(['m.login.dummy'], ['m.login.recaptcha', 'm.login.terms']);
    const { sent, send } = server(challenge({ session: 'S', flows: f, completed: ['m.login.recaptcha'] }), OK);
    await runUia(send, { 'm.login.dummy': Auth.dummy(), 'm.login.terms': Auth.terms() });
    expect(sent[1]).toEqual({ type: 'm.login.terms', session: 'S' });
  });

  it('asks a function stage by stage with the context, moving on when it returns undefined, and awaits promises', async () => {
    const asked: string[] = [];
    let context: UiaContext | undefined;
    const answer: UiaAuth = async (stage, ctx) => {
      asked.push(stage);
      context = ctx;
      return stage === 'm.login.recaptcha' ? Auth.recaptcha(`for ${String((ctx.params[stage] as { public_key: string }).public_key)}`) : undefined;
    };
    const f = flows(['m.login.email.identity'], ['m.login.email.identity'], ['m.login.recaptcha']);
    const params = { 'm.login.recaptcha': { public_key: 'pk' } };
    const { sent, send } = server(challenge({ session: 'S', flows: f, params }), OK);
    await runUia(send, answer);
    // The same stage is asked once even when several flows start with it.
    expect(asked).toEqual(['m.login.email.identity', 'm.login.recaptcha']);
    expect(context).toEqual({ session: 'S', flows: f, params, completed: [] });
    expect(sent[1]).toEqual({ type: 'm.login.recaptcha', response: 'for pk', session: 'S' });
  });

  it('map entries may be functions of the context', async () => {
    const { sent, send } = server(challenge({ session: 'S', flows: flows(['m.login.terms']), params: { 'm.login.terms': { policies: {} } } }), OK);
    await runUia(send, { 'm.login.terms': (ctx) => (ctx.params['m.login.terms'] ? Auth.terms() : undefined) });
    expect(sent[1]).toEqual({ type: 'm.login.terms', session: 'S' });
  });

  it('ends with the MatrixError when the server refuses the stage sent (a 401 with an errcode)', async () => {
    const refused = challenge({ session: 'S', flows: flows(['m.login.password']), errcode: 'M_FORBIDDEN', error: 'Invalid password' });
    const { sent, send } = server(refused);
    const error = await runUia(send, Auth.password('a', 'wrong')).catch((e: unknown) => e);
    expect(error).toBe(refused);
    expect(sent).toHaveLength(1);
  });

  it('ends with the refusal of a later stage, too', async () => {
    const f = flows(['m.login.registration_token']);
    const refused = challenge({ session: 'S', flows: f, errcode: 'M_FORBIDDEN' });
    const { sent, send } = server(challenge({ session: 'S', flows: f }), refused);
    await expect(runUia(send, { 'm.login.registration_token': Auth.registrationToken('bad') })).rejects.toBe(refused);
    expect(sent).toHaveLength(2);
  });

  it('throws the challenge when no flow can be answered', async () => {
    const unanswerable = challenge({ session: 'S', flows: flows(['m.login.email.identity'], ['m.login.msisdn']) });
    const { sent, send } = server(unanswerable);
    await expect(runUia(send, { 'm.login.dummy': Auth.dummy() })).rejects.toBe(unanswerable);
    const fn = server(unanswerable);
    await expect(runUia(fn.send, () => undefined)).rejects.toBe(unanswerable);
    expect([sent.length, fn.sent.length]).toEqual([1, 1]);
  });

  it('passes non-UIA errors through untouched', async () => {
    const inUse = new MatrixError(TARGET, 400, { errcode: 'M_USER_IN_USE', error: 'taken' });
    await expect(runUia(server(inUse).send, Auth.dummy())).rejects.toBe(inUse);
    const tokenGone = new MatrixError(TARGET, 401, { errcode: 'M_UNKNOWN_TOKEN', error: 'gone' });
    await expect(runUia(server(tokenGone).send, {})).rejects.toBe(tokenGone);
    const other = new TypeError('boom');
    await expect(runUia(server(other).send, {})).rejects.toBe(other);
  });

  it('a failing answer function ends the run with its error', async () => {
    const boom = new Error('no captcha today');
    const { send } = server(challenge({ session: 'S', flows: flows(['m.login.recaptcha']) }));
    await expect(
      runUia(send, () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
  });

  it('gives up after a bounded number of rounds when the server never finishes', async () => {
    const endless = Array.from({ length: 50 }, () => challenge({ session: 'S', flows: flows(['m.login.dummy']) }));
    const { sent, send } = server(...endless);
    const error = await runUia(send, { 'm.login.dummy': Auth.dummy() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MatrixError);
    expect((error as MatrixError).isUserInteractiveAuth).toBe(true);
    expect(sent.length).toBe(11);
  });

  it('ignores malformed flows and completed entries instead of crashing', async () => {
    const { sent, send } = server(
      challenge({ session: 'S', flows: [{ stages: 'm.login.dummy' }, null, { stages: ['m.login.dummy'] }], completed: [3], params: [] }),
      OK,
    );
    await runUia(send, { 'm.login.dummy': Auth.dummy() });
    expect(sent[1]).toEqual({ type: 'm.login.dummy', session: 'S' });
  });
});

describe('checkUiaAuth', () => {
  it('accepts an AuthDict, a map of answers or functions, and a function', () => {
    for (const ok of [Auth.dummy(), {}, { 'm.login.dummy': Auth.dummy(), 'm.login.terms': () => Auth.terms() }, () => undefined]) {
      expect(() => checkUiaAuth('auth', ok)).not.toThrow();
    }
  });

  it.each([
    ['a string', 'm.login.dummy', 'auth'],
    ['null', null, 'auth'],
    ['an array', [Auth.dummy()], 'auth'],
    ['a number', 1, 'auth'],
    ['a map entry that is neither', { 'm.login.dummy': true }, 'auth["m.login.dummy"]'],
    ['a map entry without a type', { 'm.login.dummy': { session: 's' } }, 'auth["m.login.dummy"]'],
  ])('refuses %s', (_what, value, parameter) => {
    let error: unknown;
    try {
      checkUiaAuth('auth', value);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).parameter).toBe(parameter);
  });
});
