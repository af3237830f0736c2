// Network failures without sockets, for unit specs of the request core. nock's replyWithError
// breaks (an unhandled 'error' on its mock socket) when another spec file in the same jest
// worker left its nock hooked into node:http, so errors are injected one level up instead,
// where axios hands the request to its transport adapter. Call `useTransportFaults()` at the
// top of a spec file: it installs the adapter and nock's guard hooks for that file.
import axios from 'axios';
import nock from 'nock';

const plannedFailures: Array<{ method: string; path: string; code: string }> = [];

export function useTransportFaults(): void {
  const httpAdapter = axios.getAdapter('http');
  const realCreate = axios.create.bind(axios);
  beforeAll(() => {
    jest.spyOn(axios, 'create').mockImplementation((config) =>
      realCreate({
        ...config,
        adapter: (cfg) => {
          const { pathname } = new URL(cfg.url ?? '');
          const i = plannedFailures.findIndex((f) => f.method === cfg.method?.toUpperCase() && f.path === pathname);
          if (i < 0) return httpAdapter(cfg);
          const [{ code }] = plannedFailures.splice(i, 1);
          return Promise.reject(Object.assign(new Error(`${code} (simulated)`), code === 'NONE' ? {} : { code }));
        },
      }),
    );
    nock.disableNetConnect();
  });
  afterEach(() => {
    expect(nock.pendingMocks()).toEqual([]);
    expect(plannedFailures.splice(0)).toEqual([]);
    nock.cleanAll();
  });
  afterAll(() => {
    jest.restoreAllMocks();
    nock.enableNetConnect();
  });
}

/** The next `times` attempts of `method path` fail in the transport with this error code ('NONE': an error without one). */
export function failTransport(method: string, path: string, code: string, times = 1): void {
  for (let i = 0; i < times; i++) plannedFailures.push({ method, path, code });
}

/** The error a promise rejects with; fails the test if it resolves. */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: Error) => e,
  );
}
