import type { Config } from 'jest';

// Two projects: `unit` stubs HTTP with nock; `integration` talks to a real Synapse
// that the project's globalSetup starts once for the whole run.
const common = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
};

const config: Config = {
  collectCoverage: false,
  collectCoverageFrom: ['lib/**/*.ts'],
  coverageReporters: ['text-summary', 'json-summary'],
  coverageThreshold: { global: { lines: 90 } },
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/spec/**/*.spec.ts'],
      testPathIgnorePatterns: ['<rootDir>/spec/integration/'],
      setupFilesAfterEnv: ['<rootDir>/spec/setup-unit.ts'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/spec/integration/**/*.spec.ts'],
      globalSetup: '<rootDir>/spec/harness/global-setup.ts',
      globalTeardown: '<rootDir>/spec/harness/global-teardown.ts',
      setupFilesAfterEnv: ['<rootDir>/spec/setup-integration.ts'],
    },
  ],
};

// CommonJS (the package is "type": "commonjs"): Node 22+ loads this file by itself, stripping
// the types, and needs it to be a CommonJS module; older Node goes through ts-node.
module.exports = config;
