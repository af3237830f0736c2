import { MatrixError, ValidationError } from '../core/errors';
import { isObject } from '../core/validate';
import type { AuthDict } from './builders';

/** One way through user-interactive auth, as the server lists it. */
export interface UiaFlow {
  /** The stage types to complete, in order, e.g. `['m.login.registration_token', 'm.login.dummy']`. */
  stages: string[];
}

/** What the server said in its 401: the flows, stage parameters and what is done so far. */
export interface UiaContext {
  /** The UIA session ID, sent back with every answer (absent before the server made one). */
  session?: string;
  /** The flows the server offers (malformed ones left out). */
  flows: UiaFlow[];
  /** Parameters by stage type, e.g. the ReCAPTCHA public key or the terms' policies; `{}` when none. */
  params: Record<string, unknown>;
  /** The stages completed so far in this session. */
  completed: string[];
}

/** An answer to one stage: an auth dictionary, or undefined for "I cannot do this stage"; may be a promise. */
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
  if (typeof v === 'function' || isAuthDict(v)) return;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new ValidationError(name, 'must be an auth dictionary, a map of stage answers or a function');
  }
  for (const [stage, answer] of Object.entries(v)) {
    if (answer !== undefined && typeof answer !== 'function' && !isAuthDict(answer)) {
      throw new ValidationError(`${name}["${stage}"]`, 'must be an auth dictionary or a function');
    }
  }
}

interface Responder {
  answer(stage: string, ctx: UiaContext): StageAnswer;
  /** False when the caller certainly has no answer for the stage (a map without it). */
  mayAnswer(stage: string): boolean;
}

function responder(auth: UiaAuth): Responder {
  if (typeof auth === 'function') return { answer: auth, mayAnswer: () => true };
  const byStage = isAuthDict(auth) ? { [auth.type]: auth } : auth;
  return {
    answer: (stage, ctx) => {
      const answer = byStage[stage];
      return typeof answer === 'function' ? answer(ctx) : answer;
    },
    mayAnswer: (stage) => Object.prototype.hasOwnProperty.call(byStage, stage) && byStage[stage] !== undefined,
  };
}

/**
 * Runs the user-interactive-auth dance around `send` (which makes the request with the
 * given `auth`): on each 401 challenge it answers the next stage of a flow the caller can
 * answer (flows whose every remaining stage the caller has an answer for come first), until
 * the request succeeds. A stage the server rejects, or a challenge nobody can answer, ends it
 * with the server's MatrixError; so does a flow that goes on for more than ten rounds.
 */
export async function runUia<T>(send: (auth: AuthDict | undefined) => Promise<T>, auth: UiaAuth): Promise<T> {
  const answers = responder(auth);
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
      flows: (challenge.body.flows as unknown[]).filter(isFlow),
      params: isObject(challenge.body.params) ? challenge.body.params : {},
      completed: Array.isArray(challenge.body.completed)
        ? challenge.body.completed.filter((s): s is string => typeof s === 'string')
        : [],
    };
    const found = await nextStage(ctx, answers);
    if (!found) throw challenge;
    next = ctx.session ? { ...found, session: ctx.session } : found;
  }
}

function isFlow(v: unknown): v is UiaFlow {
  return isObject(v) && Array.isArray(v.stages) && v.stages.every((s) => typeof s === 'string');
}

async function nextStage(ctx: UiaContext, answers: Responder): Promise<AuthDict | undefined> {
  const open = ctx.flows
    .filter((flow) => ctx.completed.every((done) => flow.stages.includes(done)))
    .map((flow) => flow.stages.filter((s) => !ctx.completed.includes(s)))
    .filter((remaining) => remaining.length > 0);
  // Stable sort: flows the caller can finish first, the server's order otherwise.
  const finishable = (remaining: string[]) => remaining.every((s) => answers.mayAnswer(s));
  const ordered = [...open.filter(finishable), ...open.filter((r) => !finishable(r))];
  const tried = new Set<string>();
  for (const [stage] of ordered) {
    if (tried.has(stage) || !answers.mayAnswer(stage)) continue;
    tried.add(stage);
    const dict = await answers.answer(stage, ctx);
    if (dict) return dict;
  }
  return undefined;
}
