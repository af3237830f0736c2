import type { AxiosResponse } from 'axios';
import { InvalidResponseError } from '../../lib/core/errors';
import { parseSuccess, type FieldRule } from '../../lib/core/response';

const T = { method: 'GET', path: '/x' };
const reply = (body: unknown, status = 200) => ({ status, data: typeof body === 'string' ? body : JSON.stringify(body) }) as AxiosResponse<string>;

function reason(body: unknown, fields: Record<string, FieldRule>): string | undefined {
  try {
    parseSuccess(T, reply(body), { fields });
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidResponseError);
    return (error as InvalidResponseError).reason;
  }
}

describe('parseSuccess with field rules', () => {
  it.each([
    ['string', ''],
    ['token', 'syt_abc-DEF.123~+/='],
    ['userId', '@a:hs.test'],
    ['deviceId', 'DEVICE'],
    ['int', 0],
    ['boolean', false],
    ['object', { a: 1 }],
    ['array', [1]],
  ] as const)('%s accepts %j', (rule, value) => {
    expect(reason({ f: value }, { f: rule })).toBeUndefined();
  });

  it.each([
    ['string', 5, 'must be a string'],
    ['token', 'a b', 'must be 1 to 4096 visible ASCII characters'],
    ['userId', 'alice', 'must be a user ID like @name:example.org'],
    ['deviceId', 'x'.repeat(256), 'must be at most 255 characters'],
    ['int', -1, 'must be an integer from 0 to 9007199254740991'],
    ['boolean', 'true', 'must be true or false'],
    ['object', [1], 'must be an object'],
    ['array', {}, 'must be an array'],
  ] as const)('%s refuses %j, naming the field and the rule but not the value', (rule, value, text) => {
    expect(reason({ f: value }, { f: rule })).toBe(`the field "f" ${text}`);
  });

  it('a field without "?" must be there (null counts as missing); one with "?" may be absent or null', () => {
    expect(reason({}, { f: 'string' })).toBe('the required field "f" is missing');
    expect(reason({ f: null }, { f: 'string' })).toBe('the required field "f" is missing');
    expect(reason({}, { f: 'string?' })).toBeUndefined();
    expect(reason({ f: null }, { f: 'int?' })).toBeUndefined();
    expect(reason({ f: 'x' }, { f: 'int?' })).toBe('the field "f" must be an integer from 0 to 9007199254740991');
  });

  it('an array body has none of the fields', () => {
    expect(reason([1, 2], { f: 'string' })).toBe('the required field "f" is missing');
    expect(reason([1, 2], { f: 'string?' })).toBeUndefined();
  });
});
