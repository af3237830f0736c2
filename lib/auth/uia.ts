import { MatrixError, ValidationError } from '../core/errors';
import type { AuthDict } from './builders';

export interface UiaFlow {
  stages: string[];
}

/** What the server said in its 401: the flows, stage parameters and what is done so far. */
export interface UiaContext {
  session?: string;
  flows: UiaFlow[];
  params: Record<string, unknown>;
  completed: string[];
}

export type StageAnswer = AuthDict | undefined | Promise<AuthDict | undefined>;

/**
 * How a caller answers user-interactive auth:
 * - an AuthDict: sent as is (one stage, e.g. `Auth.password(...)`);
 * - a map from stage type to an answer or a function producing one;
 * - a function `(stage, ctx) => answer | undefined` (undefined: "I can't do this stage").
 */
export type UiaAuth =
  | AuthDict
  | Partial<Record<string, AuthDict | ((ctx: UiaContext) => StageAnswer)>>
  | ((stage: string, ctx: UiaContext) => StageAnswer);

/** Servers answer each stage with one more 401; a flow longer than this is not one we can finish. */
const MAX_ROUNDS = 10;

function isAuthDict(v: unknown): v is AuthDict {
  return typeof v === 'object' && v !== null && typeof (v as AuthDict).type === 'string';
}

export function checkUiaAuth(name: string, v: unknown): void {
  if (typeof v !== 'function' && (typeof v !== 'object' || v === null || Array.isArray(v))) {
    throw new ValidationError(name, 'must be an auth dictionary, a map of stage answers or a function');
  }
}

function responder(auth: UiaAuth): (stage: string, ctx: UiaContext) => StageAnswer {
  if (typeof auth === 'function') return auth;
  const byStage = isAuthDict(auth) ? { [auth.type]: auth } : auth;
  return (stage, ctx) => {
    const answer = byStage[stage];
    return typeof answer === 'function' ? answer(ctx) : answer;
  };
}

/**
 * Runs the user-interactive-auth dance around `send` (which makes the request with the
 * given `auth`): on each 401 challenge it answers the next stage of the first flow the
 * caller can answer, until the request succeeds. A stage the server rejects, or a
 * challenge nobody can answer, ends it with the server's MatrixError.
 */
export async function runUia<T>(send: (auth: AuthDict | undefined) => Promise<T>, auth: UiaAuth): Promise<T> {
  const answer = responder(auth);
  // A ready answer goes out with the first request; it often finishes in one round trip.
  let next: AuthDict | undefined = isAuthDict(auth) ? auth : undefined;
  for (let round = 0; ; round++) {
    let challenge: MatrixError;
    try {
      return await send(next);
    } catch (error) {
      if (!(error instanceof MatrixError) || !error.isUserInteractiveAuth) throw error;
      challenge = error;
    }
    // A challenge that carries an errcode means the stage we just sent was refused.
    if (round >= MAX_ROUNDS || (next && challenge.body.errcode !== undefined)) throw challenge;
    const ctx: UiaContext = {
      session: typeof challenge.body.session === 'string' ? challenge.body.session : undefined,
      flows: challenge.body.flows as UiaFlow[],
      params: (challenge.body.params as Record<string, unknown>) ?? {},
      completed: Array.isArray(challenge.body.completed) ? (challenge.body.completed as string[]) : [],
    };
    const found = await nextStage(ctx, answer);
    if (!found) throw challenge;
    next = ctx.session ? { ...found, session: ctx.session } : found;
  }
}

async function nextStage(
  ctx: UiaContext,
  answer: (stage: string, ctx: UiaContext) => StageAnswer,
): Promise<AuthDict | undefined> {
  const tried = new Set<string>();
  for (const flow of ctx.flows) {
    if (!ctx.completed.every((done) => flow.stages.includes(done))) continue;
    const stage = flow.stages.find((s) => !ctx.completed.includes(s));
    if (!stage || tried.has(stage)) continue;
    tried.add(stage);
    const dict = await answer(stage, ctx);
    if (dict) return dict;
  }
  return undefined;
}
