// Each unit spec file stubs HTTP with nock. Jest runs several files in one worker, and
// node:http is shared between them, so a file must unhook nock when it is done or a
// later file's stubs (and its blocked-connection errors) land in the wrong place.
import nock from 'nock';

afterAll(() => {
  nock.cleanAll();
  nock.restore();
});
